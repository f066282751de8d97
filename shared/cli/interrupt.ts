import { SkiffError } from '../errors.ts';

/**
 * An AbortSignal aborted (EABORT "interrupted") by SIGINT or SIGTERM, so Ctrl-C cancels a command cleanly:
 * library writes commit atomically, so nothing half-written is left. `abort` lets the caller abort it too (a
 * timeout); `dispose()` removes the handlers — call it in `finally`.
 */
export function interruptSignal(): { signal: AbortSignal; abort: (reason: unknown) => void; dispose: () => void } {
  const ac = new AbortController();
  const onSig = (): void => ac.abort(new SkiffError('EABORT', 'interrupted'));
  process.once('SIGINT', onSig).once('SIGTERM', onSig);
  return { signal: ac.signal, abort: (r) => ac.abort(r), dispose: () => void process.off('SIGINT', onSig).off('SIGTERM', onSig) };
}
