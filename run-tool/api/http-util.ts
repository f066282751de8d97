// Request and response plumbing of the Docker-compatible API: bounded JSON bodies, JSON replies, and SkiffErrors
// turned into Docker's `{"message": …}` with the status codes Docker clients key on.
import { createWriteStream } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isSkiffError, SkiffError } from '../../shared/errors.ts';

/** The largest JSON request body the service reads (Docker's create bodies are a few KiB). */
export const MAX_JSON_BODY = 1024 * 1024;

/** The default largest POST /images/load archive: 8 GiB (`system service --max-load-size` changes it). */
export const DEFAULT_MAX_LOAD_BYTES = 8 * 1024 ** 3;

/** Writes `body` as JSON with `status`; an ended response is left alone. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** Docker's HTTP status for a skiff error code: 404 missing, 409 conflicts, 400/413 bad input, else 500. */
export function statusOf(e: unknown): number {
  if (e instanceof ApiError) return e.status;
  if (!isSkiffError(e)) return 500;
  switch (e.code) {
    case 'ENOTFOUND': return 404;
    case 'EEXIST': case 'ELOCKED': return 409;
    case 'ELIMIT': return 413;
    case 'EINVALID': case 'EUNSAFE': case 'EUNSUPPORTED': return 400;
    case 'EPERM': return 403;
    default: return e.exitStatus === 125 ? 409 : 500;
  }
}

/** An error with its HTTP status fixed by the API layer (Docker's wording for a missing container or image). */
export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** Replies to a failed request with Docker's error JSON; a response already streaming is ended instead. */
export function sendError(res: ServerResponse, e: unknown): void {
  const status = statusOf(e);
  const message = e instanceof Error ? e.message : String(e);
  sendJson(res, status, { message: status === 500 && !isSkiffError(e) && !(e instanceof ApiError) ? `internal error: ${message}` : message });
}

/**
 * Streams a request body of at most `limit` bytes into a new file `file` (0600): ELIMIT before reading when the
 * declared Content-Length is larger, or as soon as the bytes read pass it; rejects when the client goes away before
 * the body ended. On any rejection the caller's file is incomplete and must be discarded.
 */
export async function spoolBody(req: IncomingMessage, file: string, limit: number, signal?: AbortSignal): Promise<void> {
  const declared = Number(req.headers['content-length'] ?? '0');
  const tooLarge = (n: number): SkiffError => new SkiffError('ELIMIT', `request body of ${n} bytes is larger than the ${limit} bytes this service accepts: send a smaller archive or start the service with a larger --max-load-size`);
  if (declared > limit) throw tooLarge(declared);
  let n = 0;
  const count = new Transform({
    transform(chunk: Buffer, _enc, done) {
      n += chunk.length;
      done(n > limit ? tooLarge(n) : null, chunk);
    },
  });
  // piped, not in the pipeline: a body too large leaves the request open so that the 413 still reaches the client
  req.once('error', (e) => count.destroy(e));
  req.pipe(count);
  await pipeline(count, createWriteStream(file, { mode: 0o600, flags: 'wx' }), ...(signal ? [{ signal }] as const : []));
  if (!req.complete) throw new SkiffError('EIO', 'the upload was cut before its end: nothing was stored');
}

/** Reads a request body of at most `limit` bytes (ELIMIT past it, before reading more than the limit). */
export async function readBody(req: IncomingMessage, limit = MAX_JSON_BODY): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > limit) throw new SkiffError('ELIMIT', `request body of ${declared} bytes is larger than the ${limit} bytes allowed: send a smaller body`);
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    n += chunk.length;
    if (n > limit) throw new SkiffError('ELIMIT', `request body is larger than the ${limit} bytes allowed: send a smaller body`);
    parts.push(chunk);
  }
  return Buffer.concat(parts);
}

/** Reads and parses a JSON object body; an empty body is `{}`. EINVALID for malformed JSON or a non-object. */
export async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const text = (await readBody(req)).toString('utf8');
  if (text.trim() === '') return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new SkiffError('EINVALID', `malformed JSON request body: ${(e as Error).message}`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new SkiffError('EINVALID', 'request body must be a JSON object');
  return v as Record<string, unknown>;
}

/** EINVALID naming the first key of `body` outside `known` (`what` names the object). */
export function rejectUnknownFields(body: Record<string, unknown>, known: ReadonlySet<string>, what: string): void {
  for (const k of Object.keys(body)) if (!known.has(k)) throw new SkiffError('EINVALID', `unknown field ${JSON.stringify(k)} in ${what}`);
}

/** A boolean query parameter as Docker reads them: 1, true, True. */
export function queryBool(q: URLSearchParams, name: string): boolean {
  const v = q.get(name);
  return v === '1' || v === 'true' || v === 'True';
}

/**
 * Docker's `filters` query parameter (`{"label":["a=b"]}` or `{"label":{"a=b":true}}`) as skiff's `KEY=VALUE`
 * filter strings. EINVALID when it is not such JSON.
 */
export function dockerFilters(q: URLSearchParams): string[] {
  const raw = q.get('filters');
  if (!raw) return [];
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw new SkiffError('EINVALID', `invalid filters ${JSON.stringify(raw)}: want JSON such as {"label":["key=value"]}`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new SkiffError('EINVALID', 'invalid filters: want a JSON object');
  const out: string[] = [];
  for (const [k, vals] of Object.entries(v as Record<string, unknown>)) {
    const list = Array.isArray(vals) ? vals : vals && typeof vals === 'object' ? Object.entries(vals).filter(([, on]) => on === true).map(([x]) => x) : [];
    for (const x of list) out.push(`${k}=${String(x)}`);
  }
  return out;
}
