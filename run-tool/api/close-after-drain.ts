import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

/** How much of a refused request's body is still read and thrown away before its connection closes. */
export const DRAIN_LIMITS = { bytes: 256 * 1024 * 1024, ms: 5000 } as const;

/**
 * Makes the connection of `req` close gracefully once its response (sent with `Connection: close`) is out, while the
 * client may still be sending a body nobody reads (a 413 answered from the declared Content-Length): the write side
 * is shut (the client reads the whole response, then EOF) and the rest of the body is read and discarded, never
 * buffered, until the client ends it, `limits.bytes` more bytes arrived (checked every 20 ms) or `limits.ms`
 * passed; only then is the socket destroyed. Destroying it at once (as Node does for `Connection: close`) made a
 * client still writing a large body fail with a reset before it had read the 413. Call before the response is sent.
 */
export function closeAfterDrain(req: IncomingMessage, limits: { bytes: number; ms: number } = DRAIN_LIMITS): void {
  const socket = req.socket as Socket;
  // Node's server calls destroySoon() when a `Connection: close` response has finished: linger instead
  socket.destroySoon = function lingerThenDestroy(this: Socket): void {
    const start = socket.bytesRead;
    const deadline = Date.now() + limits.ms;
    const done = (): void => {
      clearInterval(timer);
      socket.destroy();
    };
    const timer = setInterval(() => {
      if (socket.bytesRead - start > limits.bytes || Date.now() >= deadline) done();
    }, 20);
    timer.unref();
    socket.once('end', done);
    socket.once('close', () => clearInterval(timer));
    socket.end();
    // the HTTP parser hands the remaining body to the request, which discards it (never buffered)
    req.resume();
    socket.resume();
  };
}
