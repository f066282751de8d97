/**
 * The one error class skiff throws for anything a user can cause or fix. `code` is stable and
 * machine-readable; `message` is one line naming what is wrong; `hint` says what to do.
 * The CLI maps codes to each tool's exit-code convention (see shared/cli).
 */
export type ErrorCode =
  | 'EINTEGRITY' // content does not hash to the expected digest
  | 'EBADSIZE' // content length differs from the expected size
  | 'EINVALID' // malformed input: digest, reference, manifest, config, option
  | 'EUNSUPPORTED' // well-formed but not supported (unknown digest algorithm, media type)
  | 'ENOTFOUND' // image, blob, tag or container does not exist
  | 'ELAYOUT' // the OCI layout on disk is malformed
  | 'ELIMIT' // a size, depth or count limit was exceeded
  | 'EUNSAFE' // an operation would touch something outside its confinement root
  | 'ELOCKED' // a lock could not be taken
  | 'EEXIST' // the thing to create exists already
  | 'EPERM' // not permitted for this user
  | 'ENODEP' // a required system program is missing
  | 'EABORT' // cancelled through an AbortSignal
  | 'EIO'; // an I/O operation failed

/**
 * A user-facing error with a stable code and an optional hint. `exitStatus`, when set, is the exit status the
 * peer tool gives this very failure (podman's 126/127 for a command the container cannot run, 2 for a container
 * state error, …); the CLI uses it instead of the code's default (shared/cli/exit-codes.ts).
 */
export class SkiffError extends Error {
  readonly code: ErrorCode;
  readonly hint?: string;
  readonly details?: Record<string, unknown>;
  readonly exitStatus?: number;

  constructor(code: ErrorCode, message: string, opts: { hint?: string; cause?: unknown; details?: Record<string, unknown>; exitStatus?: number } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'SkiffError';
    this.code = code;
    if (opts.hint !== undefined) this.hint = opts.hint;
    if (opts.details !== undefined) this.details = opts.details;
    if (opts.exitStatus !== undefined) this.exitStatus = opts.exitStatus;
  }
}

/** True when `e` is a SkiffError, optionally with the given code. */
export function isSkiffError(e: unknown, code?: ErrorCode): e is SkiffError {
  return e instanceof SkiffError && (code === undefined || e.code === code);
}

/**
 * The options of an operation that can be cancelled: the one `{ signal }` bag every async API takes. An absent or
 * undefined signal means "never cancelled"; receivers read it as a value (never by presence), so callers pass
 * `{ signal: o.signal }` without guarding it.
 */
export interface Cancellable {
  signal?: AbortSignal;
}

/** Throws EABORT when the signal has been aborted; call at I/O boundaries. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new SkiffError('EABORT', 'operation cancelled', { cause: signal.reason });
}

/**
 * At most the start of `s` for quoting user input (an instruction, a name) in a one-line message: the first line
 * only, cut to `max` characters (never inside a surrogate pair), with `…` when anything was left out. Pure.
 */
export function lineStart(s: string, max = 120): string {
  const nl = s.search(/[\r\n]/u);
  const line = nl < 0 ? s : s.slice(0, nl);
  if (line.length <= max && nl < 0) return line;
  let cut = line.slice(0, max);
  if (/[\uD800-\uDBFF]$/u.test(cut)) cut = cut.slice(0, -1);
  return `${cut}…`;
}

/** The longest error line reportError prints, after clipMessage has shortened long words. */
export const MESSAGE_MAX = 4000;

/**
 * A message fit for one line on a terminal however much user input it quotes: every run of more than 256
 * non-blank characters (a quoted word, path or instruction fragment) is cut to 200 with lineStart, and the whole to
 * MESSAGE_MAX characters. Short messages come back unchanged. Pure.
 */
export function clipMessage(message: string): string {
  if (message.length <= 256) return message;
  const clipped = message.replace(/\S{257,}/gu, (w) => lineStart(w, 200));
  return clipped.length <= MESSAGE_MAX ? clipped : lineStart(clipped, MESSAGE_MAX);
}
