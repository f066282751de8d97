import { humanSize } from './human.ts';
import type { ProgressEvent } from '../transport/copy-image.ts';

export type { ProgressEvent };

/** How progress is shown: bars on a terminal, plain lines in CI logs, JSON events, or nothing. */
export type ProgressMode = 'tty' | 'plain' | 'json' | 'quiet';

/** The mode for `--progress`/`-q`: `auto` picks bars on a TTY stderr and plain lines otherwise. */
export function progressMode(flag: string | undefined, quiet: boolean, stream: NodeJS.WriteStream = process.stderr): ProgressMode {
  if (quiet) return 'quiet';
  if (flag === 'json' || flag === 'plain' || flag === 'quiet') return flag;
  if (flag === 'tty') return 'tty';
  return stream.isTTY ? 'tty' : 'plain';
}

interface BlobState {
  what: 'blob' | 'config';
  digest: string;
  size: number;
  bytes: number;
  started: number;
  done: boolean;
}

/**
 * Renders copy progress on stderr (never stdout, so `docker-archive:/dev/stdout` works). `tty`: one bar per
 * blob with bytes, rate and ETA, redrawn in place at most 10 times a second. `plain`: a line when a blob starts
 * and ends plus an aggregate line every `intervalMs` (CI logs). `json`: one JSON object per event per line.
 * `finish()` stops the timer and draws the final state; call it exactly once.
 */
export class ProgressReporter {
  readonly #mode: ProgressMode;
  readonly #out: NodeJS.WritableStream;
  readonly #blobs = new Map<string, BlobState>();
  readonly #timer: NodeJS.Timeout | undefined;
  #drawnLines = 0;
  #lastDraw = 0;
  readonly #start = Date.now();

  constructor(mode: ProgressMode, o: { out?: NodeJS.WritableStream; intervalMs?: number } = {}) {
    this.#mode = mode;
    this.#out = o.out ?? process.stderr;
    if (mode === 'plain') {
      this.#timer = setInterval(() => this.#aggregateLine(), o.intervalMs ?? 5000);
      this.#timer.unref();
    }
  }

  /** Feeds one event; cheap enough to call for every chunk. */
  readonly onEvent = (e: ProgressEvent): void => {
    if (this.#mode === 'quiet') return;
    if (this.#mode === 'json') {
      if (e.kind !== 'blob-progress' || this.#throttle()) this.#out.write(`${JSON.stringify({ time: new Date().toISOString(), ...e })}\n`);
      return;
    }
    const d = e.digest ?? '';
    switch (e.kind) {
      case 'blob-start':
        this.#blobs.set(d, { what: kindOf(e.mediaType), digest: d, size: e.size ?? 0, bytes: 0, started: Date.now(), done: false });
        if (this.#mode === 'plain') this.#out.write(`Copying ${kindOf(e.mediaType)} ${short(d)} (${humanSize(e.size ?? 0)})\n`);
        break;
      case 'blob-progress': {
        const b = this.#blobs.get(d);
        if (b) b.bytes = e.bytes ?? b.bytes;
        break;
      }
      case 'blob-done': {
        const b = this.#blobs.get(d);
        if (b) {
          b.done = true;
          b.bytes = b.size || b.bytes;
        }
        if (this.#mode === 'plain') this.#out.write(`Copied ${b?.what ?? 'blob'} ${short(d)} (${humanSize(b?.size ?? e.size ?? 0)} in ${secs(b ? Date.now() - b.started : 0)})\n`);
        break;
      }
      case 'blob-skip':
        if (this.#mode === 'plain' || this.#mode === 'tty') this.#out.write(`Copying blob ${short(d)} skipped: ${e.reason === 'mounted' ? 'mounted from another repository' : 'already exists'}\n`);
        break;
      case 'manifest':
        if (this.#mode === 'tty') this.#clear();
        this.#out.write(`Writing manifest to image destination\n`);
        break;
      case 'done':
        break;
    }
    if (this.#mode === 'tty' && this.#throttle()) this.#draw();
  };

  /** Stops timers and prints the last state. */
  finish(): void {
    if (this.#timer) clearInterval(this.#timer);
    if (this.#mode === 'tty') this.#clear();
  }

  #throttle(): boolean {
    const now = Date.now();
    if (now - this.#lastDraw < 100) return false;
    this.#lastDraw = now;
    return true;
  }

  #clear(): void {
    if (this.#drawnLines > 0) this.#out.write(`\x1b[${this.#drawnLines}A\x1b[J`);
    this.#drawnLines = 0;
  }

  #draw(): void {
    this.#clear();
    const active = [...this.#blobs.values()].filter((b) => !b.done);
    for (const b of active) {
      const width = 30;
      const frac = b.size > 0 ? Math.min(1, b.bytes / b.size) : 0;
      const filled = Math.round(frac * width);
      const elapsed = (Date.now() - b.started) / 1000;
      const rate = elapsed > 0 ? b.bytes / elapsed : 0;
      const eta = rate > 0 && b.size > b.bytes ? `${Math.ceil((b.size - b.bytes) / rate)}s` : '';
      this.#out.write(`Copying ${b.what} ${short(b.digest)} [${'='.repeat(filled)}${filled < width ? '>' : ''}${' '.repeat(Math.max(0, width - filled - 1))}] ${humanSize(b.bytes)} / ${humanSize(b.size)} ${humanSize(rate)}/s ${eta}\n`);
    }
    this.#drawnLines = active.length;
  }

  #aggregateLine(): void {
    const all = [...this.#blobs.values()];
    if (all.length === 0) return;
    const total = all.reduce((n, b) => n + b.size, 0);
    const bytes = all.reduce((n, b) => n + b.bytes, 0);
    const elapsed = (Date.now() - this.#start) / 1000;
    this.#out.write(`Progress: ${all.filter((b) => b.done).length}/${all.length} blobs, ${humanSize(bytes)} / ${humanSize(total)}, ${humanSize(elapsed > 0 ? bytes / elapsed : 0)}/s\n`);
  }
}

function kindOf(mediaType: string | undefined): 'blob' | 'config' {
  return mediaType !== undefined && /config|container\.image\.v1/.test(mediaType) ? 'config' : 'blob';
}

function short(d: string): string {
  return d.replace(/^sha256:/, '').slice(0, 12);
}
function secs(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}
