// closeAfterDrain: a refused request's connection stays open for reading (the rest of the body discarded) until the
// client ends it, but never past its byte or time bound.
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { closeAfterDrain } from '../../../run-tool/api/close-after-drain.ts';
import { scratchDir } from '../../helpers/tmp.ts';

let server: Server | undefined;
let cleanup: (() => Promise<void>) | undefined;

/** A server on a unix socket answering every request 413 (Connection: close) without reading its body. */
async function refusing(limits: { bytes: number; ms: number }): Promise<string> {
  const t = await scratchDir('skiff-drain-');
  cleanup = t.cleanup;
  const sock = join(t.dir, 'api.sock');
  server = createServer((req, res) => {
    res.setHeader('Connection', 'close');
    closeAfterDrain(req, limits);
    res.writeHead(413, { 'Content-Type': 'application/json' }).end('{"message":"too large"}');
  });
  await new Promise<void>((ok) => server!.listen(sock, ok));
  return sock;
}

/** Sends a request declaring `declared` body bytes, then `chunk`-byte writes every `everyMs` until the connection fails. */
function endlessUpload(sock: string, declared: number, chunk: number, everyMs: number): Promise<{ written: number; ms: number; response: string }> {
  return new Promise((ok) => {
    // half-open, as HTTP clients are: the service's FIN after its answer does not end our side
    const s = connect({ path: sock, allowHalfOpen: true });
    const began = Date.now();
    const parts: Buffer[] = [];
    let written = 0;
    let timer: NodeJS.Timeout | undefined;
    s.on('data', (c: Buffer) => parts.push(c));
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      ok({ written, ms: Date.now() - began, response: Buffer.concat(parts).toString() });
    });
    s.write(`POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: ${declared}\r\n\r\n`);
    const body = Buffer.alloc(chunk, 0x20);
    const more = (): void => {
      if (s.destroyed) return;
      s.write(body, (e) => {
        if (e) return;
        written += chunk;
        timer = setTimeout(more, everyMs);
      });
    };
    more();
  });
}

afterEach(async () => {
  await new Promise<void>((ok) => (server ? server.close(() => ok()) : ok()));
  server = undefined;
  await cleanup?.();
});

describe('closeAfterDrain', () => {
  it('a client that never stops sending is cut once the byte bound is passed, after it had the 413', async () => {
    const sock = await refusing({ bytes: 4 * 1024 * 1024, ms: 60_000 });
    const r = await endlessUpload(sock, 1 << 30, 256 * 1024, 0);
    expect(r.response).toMatch(/^HTTP\/1\.1 413 /);
    // past the bound (checked every 20 ms: what came in meanwhile counts too), far from the 1 GiB declared
    expect(r.written).toBeGreaterThan(4 * 1024 * 1024);
    expect(r.written).toBeLessThan(512 * 1024 * 1024);
  });

  it('a client that trickles is cut once the time bound is passed, after it had the 413', async () => {
    const sock = await refusing({ bytes: 1 << 30, ms: 500 });
    const r = await endlessUpload(sock, 1 << 30, 16, 20);
    expect(r.response).toMatch(/^HTTP\/1\.1 413 /);
    expect(r.ms).toBeGreaterThanOrEqual(450);
    expect(r.ms).toBeLessThan(15_000);
  });
});
