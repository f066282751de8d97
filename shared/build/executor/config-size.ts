/**
 * The size a stage's image config will have when written, kept up to date after every instruction so a build fails
 * at the instruction whose config crosses the document limit (MAX_DOCUMENT_BYTES) rather than writing an image no
 * reader accepts. The sizes are exact byte lengths of `JSON.stringify` (UTF-8) — what writeBuiltImage stores, less
 * its `created` time and `--label`s, which its own check covers. History and diff IDs only grow during a stage, so
 * their sizes are added up as entries arrive; the rest of the config is measured again each time with string
 * lengths memoised, so a stage of thousands of ENV lines costs one pass over the Env list per instruction, not a
 * serialisation of the whole config.
 */
import type { History, ImageConfig } from '../../oci/types.ts';

/** Tracks the JSON size of one stage's config; see the module comment. */
export class ConfigSizeMeter {
  readonly #strings = new Map<string, number>();
  #history = { count: 0, bytes: 0 };
  #diffIds = { count: 0, bytes: 0 };

  /** The byte length of `JSON.stringify({ ...config, rootfs: { type: 'layers', diff_ids }, history })`. */
  measure(config: ImageConfig, diffIds: readonly string[], history: readonly History[]): number {
    const { rootfs: _r, history: _h, ...rest } = config;
    // the two grown parts are sums of their entries; a shrunk list (never within a stage) is measured afresh
    this.#grow(this.#history, history);
    this.#grow(this.#diffIds, diffIds);
    const restBytes = this.size(rest);
    const hasRest = restBytes > 2;
    const rootfs = `"rootfs":{"type":"layers","diff_ids":`.length + this.#list(this.#diffIds) + 1;
    const hist = `"history":`.length + this.#list(this.#history);
    return restBytes + (hasRest ? 1 : 0) + rootfs + 1 + hist;
  }

  #grow(acc: { count: number; bytes: number }, list: readonly unknown[]): void {
    if (list.length < acc.count) acc.count = acc.bytes = 0;
    for (let i = acc.count; i < list.length; i++) acc.bytes += this.size(list[i]);
    acc.count = list.length;
  }

  #list(acc: { count: number; bytes: number }): number {
    return 2 + acc.bytes + Math.max(0, acc.count - 1);
  }

  /** The byte length of `JSON.stringify(v)` for plain JSON data (strings memoised). */
  size(v: unknown): number {
    switch (typeof v) {
      case 'string': {
        if (v.length < 64) return Buffer.byteLength(JSON.stringify(v));
        let n = this.#strings.get(v);
        if (n === undefined) this.#strings.set(v, (n = Buffer.byteLength(JSON.stringify(v))));
        return n;
      }
      case 'number':
        return Number.isFinite(v) ? String(v).length : 4;
      case 'boolean':
        return v ? 4 : 5;
      case 'object': {
        if (v === null) return 4;
        if (Array.isArray(v)) {
          let n = 2 + Math.max(0, v.length - 1);
          for (const e of v) n += e === undefined || typeof e === 'function' ? 4 : this.size(e);
          return n;
        }
        let n = 2;
        let k = 0;
        for (const [key, val] of Object.entries(v)) {
          if (val === undefined || typeof val === 'function') continue;
          n += this.size(key) + 1 + this.size(val);
          k++;
        }
        return n + Math.max(0, k - 1);
      }
      default:
        return 0;
    }
  }
}
