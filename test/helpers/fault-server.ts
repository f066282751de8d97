import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** One request as the fault server saw it. */
export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  at: number;
}

/** A running fault server. */
export interface FaultServer {
  /** `127.0.0.x:PORT` */
  host: string;
  url: string;
  port: number;
  requests: SeenRequest[];
  /** Requests in flight right now / at most so far. */
  active: number;
  peak: number;
  stop(): Promise<void>;
}

/** A handler; returning (or resolving) ends nothing by itself — it must answer or destroy the socket. */
export type FaultHandler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void | Promise<void>;

/**
 * A small node:http server on 127.0.0.1 (or another 127.x address) for faults a real registry does not
 * produce: the handler answers each request (read body is passed in, capped at 16 MiB). Requests are logged.
 * `stop()` destroys every open socket so a stalled response never keeps a test alive.
 */
export async function startFaultServer(handler: FaultHandler, opts: { address?: string; maxRequests?: number } = {}): Promise<FaultServer> {
  const address = opts.address ?? '127.0.0.1';
  const maxRequests = opts.maxRequests ?? 5000;
  const sockets = new Set<Socket>();
  const state: FaultServer = { host: '', url: '', port: 0, requests: [], active: 0, peak: 0, stop: async () => {} };
  const server: Server = createServer((req, res) => {
    if (state.requests.length >= maxRequests) {
      res.statusCode = 503;
      res.end('request budget of the fault server exhausted');
      return;
    }
    state.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, at: Date.now() });
    state.active++;
    state.peak = Math.max(state.peak, state.active);
    let done = false;
    const finish = () => {
      if (!done) {
        done = true;
        state.active--;
      }
    };
    res.on('close', finish);
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= 16 << 20) chunks.push(c);
    });
    req.on('error', () => {});
    req.on('end', () => {
      Promise.resolve(handler(req, res, Buffer.concat(chunks))).catch(() => {
        res.destroy();
      });
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, address, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  state.port = port;
  state.host = `${address}:${port}`;
  state.url = `http://${address}:${port}`;
  state.stop = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  };
  return state;
}

/** Writes `data` slowly: `step` bytes every `everyMs`, at most `maxMs` in total (then destroys the socket). */
export async function trickle(res: ServerResponse, data: Buffer, step: number, everyMs: number, maxMs = 10_000): Promise<void> {
  const start = Date.now();
  for (let i = 0; i < data.length; i += step) {
    if (res.destroyed || Date.now() - start > maxMs) return void res.destroy();
    res.write(data.subarray(i, i + step));
    await new Promise((r) => setTimeout(r, everyMs));
  }
  res.end();
}
