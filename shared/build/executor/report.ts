/**
 * Build progress like buildah's: `[i/n] STEP k/m: INSTRUCTION`, RUN output streamed live, `--> Using cache <id>`,
 * `--> <time>` per step, warnings; in `json` mode one JSON object per line. Always on stderr (stdout carries only the
 * image id).
 */

import { lineStart } from '../../errors.ts';

/** The most characters of an instruction's text a progress or error line quotes. */
export const STEP_TEXT_MAX = 200;

/**
 * How progress and error lines quote an instruction: `KIND text`, the text cut to its first line and
 * STEP_TEXT_MAX characters (with `…`), so a megabyte-long RUN never floods stderr. Pure.
 */
export function stepText(kind: string, text: string): string {
  return `${kind} ${lineStart(text, STEP_TEXT_MAX)}`;
}

/** Where build progress goes. */
export interface BuildReporter {
  step(stage: { index: number; count: number; name?: string }, n: number, total: number, text: string): void;
  cacheHit(id: string): void;
  stepDone(seconds: number): void;
  /** A RUN's output; `stream` says which of its streams it came from (default stdout). */
  output(chunk: Buffer, stream?: 'stdout' | 'stderr'): void;
  warn(msg: string): void;
  /** A warning worded exactly as buildah words it (e.g. `[Warning] one or more build args were not consumed: [X]`):
   * printed as is, with no `WARN:` prefix; a `warning` event in json mode; nothing in quiet mode (buildah -q). */
  peerWarning(msg: string): void;
  info(msg: string): void;
}

/**
 * A reporter for a mode: plain text, JSON lines, or nothing (quiet). `label` (a multi-platform build's platform)
 * starts every plain progress line with `[label] ` and adds `platform` to every JSON event; a RUN's own output is
 * passed through unchanged.
 */
export function createReporter(mode: 'plain' | 'json' | 'quiet', out: NodeJS.WritableStream = process.stderr, o: { label?: string } = {}): BuildReporter {
  if (mode === 'quiet') return { step() {}, cacheHit() {}, stepDone() {}, output() {}, warn: (m) => out.write(`WARN: ${m}\n`), peerWarning() {}, info() {} };
  if (mode === 'json') {
    const j = (ev: object) => out.write(`${JSON.stringify(o.label === undefined ? ev : { ...ev, platform: o.label })}\n`);
    return {
      step: (s, n, total, text) => j({ event: 'step', stage: s.index, stages: s.count, step: n, steps: total, instruction: text }),
      cacheHit: (id) => j({ event: 'cache', id }),
      stepDone: (seconds) => j({ event: 'done', seconds }),
      output: (c) => j({ event: 'output', text: c.toString() }),
      warn: (m) => j({ event: 'warning', message: m }),
      peerWarning: (m) => j({ event: 'warning', message: m }),
      info: (m) => j({ event: 'info', message: m }),
    };
  }
  const p = o.label === undefined ? '' : `[${o.label}] `;
  return {
    step: (s, n, total, text) => out.write(`${p}${s.count > 1 ? `[${s.index + 1}/${s.count}] ` : ''}STEP ${n}/${total}: ${text}\n`),
    cacheHit: (id) => out.write(`${p}--> Using cache ${id}\n`),
    stepDone: (seconds) => out.write(`${p}--> ${seconds.toFixed(3)}s\n`),
    output: (c) => out.write(c),
    warn: (m) => out.write(`${p}WARN: ${m}\n`),
    peerWarning: (m) => out.write(`${m}\n`),
    info: (m) => out.write(`${p}${m}\n`),
  };
}
