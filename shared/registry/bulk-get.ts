import type { IncomingHttpHeaders } from 'node:http';
import { isIP, type LookupFunction, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import type { LentChunkSink } from '../oci/blob-lender.ts';

/** How a bulk GET connects: the same TLS material and name lookup as the registry's dispatcher. */
export interface BulkConnect {
  ca?: string[];
  cert?: string;
  key?: string;
  rejectUnauthorized: boolean;
  lookup: LookupFunction;
}

/**
 * A bulk GET's body, consumed one of two ways, chosen by the first use: as a byte stream (each read copied out:
 * for small bodies such as a registry's error), or through `lend`, which receives into one reused 1 MiB buffer
 * and lends its bytes to the sink — nothing allocated per read. `dump` (and `destroy`) close the connection,
 * which is never reused.
 */
export interface BulkBody extends Readable {
  dump(opts?: { limit?: number }): Promise<void>;
  /** Resolves after the sink took the last byte of the body; rejects on any connection or sink error. */
  lend(sink: LentChunkSink): Promise<void>;
}

/** The head and body of one bulk GET. */
export interface BulkResponse {
  statusCode: number;
  headers: IncomingHttpHeaders;
  body: BulkBody;
}

/** Lend buffer size: one socket read takes up to this much of what the kernel holds. */
const READ_BYTES = 1 << 20;
/** Lent bytes are handed to the sink once this many are buffered (reads are smaller under TLS: 16 KiB records). */
const LEND_AT = READ_BYTES >> 1;
/** Read buffer for the head, a streamed body, and reads while lent bytes are out (≤ READ_BYTES − LEND_AT). */
const STREAM_READ_BYTES = 256 << 10;
/** Largest response head (status line and headers) accepted. */
const MAX_HEAD_BYTES = 64 << 10;

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** An error carrying a code the retry policy knows (connection trouble is transient, as undici's is). */
function wireError(message: string, code: string): NodeJS.ErrnoException {
  const e: NodeJS.ErrnoException = new Error(message);
  e.code = code;
  return e;
}

/** One request header line; refuses anything that could split the request (CR, LF, NUL, a non-token name). */
function headerLine(name: string, value: string): string {
  if (!TOKEN.test(name) || /[\r\n\0]/.test(value)) throw wireError(`invalid request header ${JSON.stringify(name)}`, 'ERR_INVALID_HTTP_TOKEN');
  return `${name}: ${value}\r\n`;
}

/** Parses a response head (without its blank line); undefined for anything malformed (obs-fold included). */
export function parseResponseHead(text: string): { statusCode: number; headers: IncomingHttpHeaders } | undefined {
  const lines = text.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})(?: [^\r\n]*)?$/.exec(lines[0]!);
  if (!m) return undefined;
  const headers: Record<string, string | string[]> = {};
  for (const line of lines.slice(1)) {
    const c = line.indexOf(':');
    if (c <= 0 || !TOKEN.test(line.slice(0, c))) return undefined;
    const name = line.slice(0, c).toLowerCase();
    const value = line.slice(c + 1).trim();
    const had = headers[name];
    headers[name] = had === undefined ? value : Array.isArray(had) ? [...had, value] : [had, value];
  }
  return { statusCode: Number(m[1]), headers };
}

/** The body length a response declares; 0 for 204/304; undefined when not framed by one Content-Length. */
function declaredLength(statusCode: number, headers: IncomingHttpHeaders): number | undefined {
  if (statusCode === 204 || statusCode === 304) return 0;
  if (headers['transfer-encoding'] !== undefined) return undefined;
  const v = headers['content-length'];
  const values = Array.isArray(v) ? v : v === undefined ? [] : [v];
  if (values.length === 0 || values.some((x) => x !== values[0]) || !/^\d{1,15}$/.test(values[0]!)) return undefined;
  return Number(values[0]);
}

/**
 * One HTTP/1.1 GET on a connection of its own, read with `onread` into large buffers instead of the 64 KiB
 * pieces a stream socket allocates: the path for large blobs, where per-piece work dominates. The request carries
 * exactly `headers` plus Host and `Connection: close`; TLS and name lookup are `connect`'s. Resolves with the head
 * once it arrives; the body then yields exactly Content-Length bytes or fails (a short body ECONNRESET, a stall
 * past `bodyTimeout` UND_ERR_BODY_TIMEOUT: both transient). Resolves undefined, having closed the connection,
 * when the response is not framed by a single Content-Length (chunked, until-close): the caller sends the request
 * again another way. Rejects on a connection, TLS or protocol error, a head over 64 KiB, a header timeout, or
 * `signal`.
 */
export async function bulkGet(
  url: URL,
  headers: Record<string, string>,
  o: { connect: BulkConnect; signal?: AbortSignal; headersTimeout: number; bodyTimeout: number },
): Promise<BulkResponse | undefined> {
  o.signal?.throwIfAborted();
  let request = `GET ${url.pathname}${url.search} HTTP/1.1\r\n${headerLine('host', url.host)}`;
  for (const [k, v] of Object.entries(headers)) {
    const lower = k.toLowerCase();
    if (lower !== 'host' && lower !== 'connection') request += headerLine(k, v);
  }
  request += 'connection: close\r\n\r\n';
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const https = url.protocol === 'https:';
  const port = Number(url.port) || (https ? 443 : 80);

  /** head: reading the head; wait: head read, reading paused until the body's first use; then stream or lend. */
  let phase: 'head' | 'wait' | 'stream' | 'lend' = 'head';
  const readBuf = Buffer.allocUnsafe(STREAM_READ_BYTES);
  let lendBuf: Buffer | undefined;
  let filled = 0;
  let head = Buffer.alloc(0);
  /** Body bytes not yet received. */
  let left = 0;
  /** Body bytes that arrived with the head, before the body's first use. */
  let early: Buffer | undefined;
  let body: BulkBody | undefined;
  let failed: unknown;
  let headSettle: { resolve: (r: BulkResponse | undefined) => void; reject: (e: unknown) => void } | undefined;
  let lendSettle: { resolve: () => void; reject: (e: unknown) => void; sink: LentChunkSink } | undefined;
  const answered = new Promise<BulkResponse | undefined>((resolve, reject) => {
    headSettle = { resolve, reject };
  });
  // connect, TLS and the whole head within headersTimeout (the body's stalls are the socket's idle timeout)
  const headTimer = setTimeout(() => fail(wireError('timed out waiting for response headers', 'UND_ERR_HEADERS_TIMEOUT')), o.headersTimeout);

  /**
   * A connection, protocol or timeout error. Once the whole body was received it changes nothing; before, it
   * rejects the head, the lend, or the stream — or, before the body's first use, waits for it (an 'error' event
   * then would have no listener).
   */
  const fail = (e: unknown): void => {
    if (failed !== undefined) return;
    clearTimeout(headTimer);
    socket.destroy();
    if (headSettle) {
      failed = e;
      headSettle.reject(e);
      headSettle = undefined;
      return;
    }
    if (left === 0) return;
    failed = e;
    if (phase === 'lend') stopLend(e);
    else if (phase === 'stream' && body && !body.destroyed) body.destroy(e as Error);
  };

  /** Ends a lend with `e` (a sink error, a cancel, or fail's), whatever was received. */
  const stopLend = (e: unknown): void => {
    failed ??= e;
    socket.destroy();
    const ls = lendSettle;
    lendSettle = undefined;
    ls?.reject(e);
  };

  const finished = (): void => {
    socket.setTimeout(0);
    socket.end();
  };

  /** Bytes at the front of the lend buffer that the sink holds now (its promise pending); 0 when none. */
  let outstanding = 0;

  /**
   * Lends the buffered bytes to the sink when enough are there (or the body is complete) and none are out; more
   * reads meanwhile land behind them. Returns whether reading may go on at once.
   */
  const maybeLendOut = (): boolean => {
    while (outstanding === 0 && (filled >= LEND_AT || (left === 0 && filled > 0))) {
      const ls = lendSettle!;
      outstanding = filled;
      let r: void | Promise<void>;
      try {
        r = ls.sink(lendBuf!.subarray(0, outstanding));
      } catch (e) {
        stopLend(e);
        return false;
      }
      if (r instanceof Promise) {
        socket.pause();
        r.then(
          () => {
            if (lendSettle !== ls) return; // stopped meanwhile
            returned();
            if (maybeLendOut() && left > 0) socket.resume();
          },
          (e: unknown) => stopLend(e),
        );
        return false;
      }
      returned();
    }
    if (left === 0 && filled === 0 && outstanding === 0 && lendSettle) {
      const ls = lendSettle;
      lendSettle = undefined;
      finished();
      ls.resolve();
      return false;
    }
    return outstanding === 0;
  };

  /** The sink is done with the outstanding bytes: what arrived behind them moves to the front. */
  const returned = (): void => {
    if (filled > outstanding) lendBuf!.copy(lendBuf!, 0, outstanding, filled);
    filled -= outstanding;
    outstanding = 0;
  };

  /** Takes `n` body bytes that were read into `buf`; returns whether reading goes on. */
  const onBody = (buf: Buffer, n: number): boolean => {
    if (n > left) {
      fail(wireError('the server sent more than its Content-Length', 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH'));
      return false;
    }
    left -= n;
    if (phase === 'lend') {
      // the bytes belong at `filled`: move them when the read went to another buffer (the read buffer, or a part of
      // the lend buffer handed out before the last flush)
      if (buf.buffer !== lendBuf!.buffer || buf.byteOffset !== lendBuf!.byteOffset + filled) {
        if (filled + n > lendBuf!.length) {
          // (only while bytes are out, or on the first read after a switch from streaming)
          const grown = Buffer.allocUnsafe(filled + n);
          lendBuf!.copy(grown, 0, 0, filled);
          lendBuf = grown;
        }
        buf.copy(lendBuf!, filled, 0, n);
      }
      filled += n;
      return maybeLendOut();
    }
    if (phase === 'wait') {
      // a read that was under way when reading paused (TLS delivers what it already decrypted): kept for the first use
      const copy = Buffer.from(buf.subarray(0, n));
      early = early ? Buffer.concat([early, copy]) : copy;
      if (left === 0) finished();
      return false;
    }
    const more = body!.push(Buffer.from(buf.subarray(0, n)));
    if (left === 0) {
      body!.push(null);
      finished();
      return false;
    }
    return more;
  };

  const onHead = (buf: Buffer, n: number): boolean => {
    head = Buffer.concat([head, buf.subarray(0, n)]);
    for (;;) {
      const end = head.indexOf('\r\n\r\n');
      if (end < 0 ? head.length > MAX_HEAD_BYTES : end > MAX_HEAD_BYTES) {
        fail(wireError('the response head is larger than 64 KiB', 'UND_ERR_HEADERS_OVERFLOW'));
        return false;
      }
      if (end < 0) return true;
      const parsed = parseResponseHead(head.subarray(0, end).toString('latin1'));
      if (!parsed || parsed.statusCode < 100) {
        fail(wireError('the server sent a malformed response head', 'HPE_INVALID_HEADER_TOKEN'));
        return false;
      }
      const rest = head.subarray(end + 4);
      if (parsed.statusCode < 200) {
        if (parsed.statusCode === 101) {
          fail(wireError('the server switched protocols on a GET', 'UND_ERR_SOCKET'));
          return false;
        }
        head = rest; // an interim response; the real one follows
        continue;
      }
      const length = declaredLength(parsed.statusCode, parsed.headers);
      const hs = headSettle!;
      headSettle = undefined;
      clearTimeout(headTimer);
      if (length === undefined) {
        socket.destroy();
        hs.resolve(undefined);
        return false;
      }
      if (rest.length > length) {
        headSettle = hs;
        fail(wireError('the server sent more than its Content-Length', 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH'));
        return false;
      }
      left = length - rest.length;
      early = rest.length > 0 ? Buffer.from(rest) : undefined;
      phase = 'wait';
      body = makeBody();
      socket.setTimeout(o.bodyTimeout);
      if (left === 0) finished();
      else socket.pause();
      hs.resolve({ ...parsed, body });
      return false;
    }
  };

  const makeBody = (): BulkBody => {
    const b = new Readable({
      read() {
        // once lent, reading is the lend's business (the stream machinery may still call this, e.g. to read ahead)
        if (phase === 'lend') return;
        if (phase === 'wait' && failed !== undefined) {
          phase = 'stream';
          b.destroy(failed as Error);
          return;
        }
        if (phase === 'wait') {
          phase = 'stream';
          if (early) b.push(early);
          early = undefined;
          if (left === 0) b.push(null);
        }
        if (left > 0 && !socket.destroyed) socket.resume();
      },
      destroy(err, cb) {
        if (lendSettle) stopLend(err ?? wireError('the body was destroyed', 'UND_ERR_ABORTED'));
        socket.destroy();
        cb(phase === 'lend' ? null : err);
      },
    }) as BulkBody;
    b.dump = async () => {
      b.destroy();
    };
    b.lend = (sink) =>
      new Promise<void>((resolve, reject) => {
        if (failed !== undefined) return reject(failed);
        // the stream machinery may have read ahead (maybeReadMore) into the stream's buffer: those bytes are lent
        // first, as long as no consumer has seen any of them
        if (phase === 'stream' && (b.readableDidRead || b.readableFlowing === true || b.destroyed)) return reject(new Error('the body is being read as a stream'));
        if (phase !== 'wait' && phase !== 'stream') return reject(new Error('the body is already lent'));
        const ahead: Buffer[] = early ? [early] : [];
        early = undefined;
        if (phase === 'stream') for (let c: Buffer | null; (c = b.read() as Buffer | null) !== null; ) ahead.push(c);
        phase = 'lend';
        lendSettle = { resolve, reject, sink };
        const first = Buffer.concat(ahead);
        lendBuf = Buffer.allocUnsafe(Math.max(READ_BYTES, first.length));
        filled = first.copy(lendBuf);
        if (maybeLendOut() && left > 0) socket.resume();
      });
    return b;
  };

  const onread = {
    // lent bytes go straight to the free part of the lend buffer (at least LEND_AT bytes) while none are out;
    // everything else to the read buffer (onBody moves lent bytes that landed there)
    buffer: () => (phase === 'lend' && lendBuf && outstanding === 0 && filled < LEND_AT ? lendBuf.subarray(filled) : readBuf),
    callback: (n: number, buf: Buffer): boolean => {
      if (failed !== undefined) return false;
      return phase === 'head' ? onHead(buf, n) : onBody(buf, n);
    },
  };

  const base = { host, port, lookup: o.connect.lookup, onread, noDelay: true };
  let socket: Socket;
  if (https) {
    const tls = await import('node:tls');
    socket = tls.connect({
      ...base,
      ...(o.connect.ca ? { ca: o.connect.ca } : {}),
      ...(o.connect.cert !== undefined ? { cert: o.connect.cert, key: o.connect.key } : {}),
      rejectUnauthorized: o.connect.rejectUnauthorized,
      ...(isIP(host) === 0 ? { servername: host } : {}),
      ALPNProtocols: ['http/1.1'],
    });
    socket.once('secureConnect', () => socket.write(request));
  } else {
    const net = await import('node:net');
    socket = net.connect(base);
    socket.once('connect', () => socket.write(request));
  }
  socket.on('timeout', () => fail(wireError('the response body stalled (timeout)', 'UND_ERR_BODY_TIMEOUT')));
  socket.on('error', fail);
  socket.on('close', () => {
    if (phase === 'head' && headSettle) fail(wireError('the connection closed before the response head', 'ECONNRESET'));
    else if (left > 0) fail(wireError(`the connection closed ${left} bytes before the end of the body`, 'ECONNRESET'));
  });
  if (o.signal) {
    const signal = o.signal;
    const onAbort = (): void => fail(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('close', () => signal.removeEventListener('abort', onAbort));
  }
  return answered;
}
