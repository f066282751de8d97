import { Readable } from 'node:stream';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tar from 'tar-stream';
import { afterEach, beforeEach, expect } from 'vitest';
import { scratchDir } from '../../helpers/tmp.ts';
import { applyLayer, type ApplyOptions } from '../../../shared/layer/apply.ts';

/** One entry of a hand-made (possibly malicious) tar. */
export interface E {
  name: string;
  type?: tar.Header['type'];
  mode?: number;
  uid?: number;
  gid?: number;
  linkname?: string;
  body?: string | Buffer;
  devmajor?: number;
  devminor?: number;
  mtime?: Date;
  pax?: Record<string, string>;
}

const TYPE_BITS: Record<string, number> = { file: 0o100000, link: 0o100000, directory: 0o040000, symlink: 0o120000, 'character-device': 0o020000, 'block-device': 0o060000, fifo: 0o010000 };

/** Builds a tar in memory with tar-stream, writing names verbatim (no sanitising). */
export async function makeTar(entries: E[]): Promise<Buffer> {
  const pack = tar.pack();
  const out: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack) out.push(c as Buffer);
  })();
  for (const e of entries) {
    const type = e.type ?? 'file';
    const body = e.body === undefined ? Buffer.alloc(0) : Buffer.from(e.body);
    await new Promise<void>((resolve, reject) => {
      const h: Partial<tar.Header> & { name: string; pax?: Record<string, string> } = {
        name: e.name,
        type,
        mode: ((e.mode ?? (type === 'directory' ? 0o755 : 0o644)) & 0o7777) | (TYPE_BITS[type] ?? 0),
        uid: e.uid ?? 0,
        gid: e.gid ?? 0,
        mtime: e.mtime ?? new Date(1_600_000_000_000),
        size: type === 'file' ? body.length : 0,
      };
      if (e.linkname !== undefined) h.linkname = e.linkname;
      if (e.devmajor !== undefined) h.devmajor = e.devmajor;
      if (e.devminor !== undefined) h.devminor = e.devminor;
      if (e.pax) h.pax = e.pax;
      pack.entry(h, type === 'file' ? body : Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(out);
}

/** Applies a hand-made tar onto root. */
export async function applyEntries(root: string, entries: E[], opts: ApplyOptions = {}) {
  return applyLayer(root, Readable.from([await makeTar(entries)]), opts);
}

/** Makes base/R (0700) and base/victim with victim/hello; returns both paths. */
export async function rootAndVictim(base: string): Promise<{ R: string; victim: string }> {
  const R = join(base, 'R');
  const victim = join(base, 'victim');
  await mkdir(R, { mode: 0o700 });
  await mkdir(victim);
  await writeFile(join(victim, 'hello'), 'victim data');
  return { R, victim };
}

/** Reads a whole stream into a Buffer (tests only; small data). */
export async function collect(s: AsyncIterable<unknown>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of s) out.push(Buffer.from(c as Buffer));
  return Buffer.concat(out);
}

/** A listing of a tree (path, type, mode, uid, size, link target, content hash) to compare before/after. */
export async function snapshot(dir: string): Promise<string> {
  const { lstat, readdir, readlink, readFile } = await import('node:fs/promises');
  const { createHash } = await import('node:crypto');
  const lines: string[] = [];
  const walk = async (d: string, rel: string): Promise<void> => {
    for (const n of (await readdir(d)).sort()) {
      const p = join(d, n);
      const st = await lstat(p);
      let extra = '';
      if (st.isSymbolicLink()) extra = '-> ' + (await readlink(p));
      else if (st.isFile()) extra = createHash('sha256').update(await readFile(p)).digest('hex').slice(0, 16);
      lines.push(`${rel}${n} ${(st.mode >>> 0).toString(8)} ${st.uid}:${st.gid} ${st.nlink} ${st.mtimeMs} ${extra}`);
      if (st.isDirectory()) await walk(p, `${rel}${n}/`);
    }
  };
  const st = await lstat(dir);
  lines.push(`. ${st.mode.toString(8)} ${st.mtimeMs}`);
  await walk(dir, '');
  return lines.join('\n');
}

/**
 * Per test: a fresh scratch dir holding the confinement root R and a sibling victim dir, handed to `set`; after each
 * test the victim must be exactly as it was (nothing outside R was touched), then the scratch dir goes. `accept()`
 * takes the victim's present state as the baseline, for a test that changes it on purpose.
 */
export function withRootAndVictim(prefix: string, set: (s: { base: string; R: string; victim: string }) => void): { accept: () => Promise<void> } {
  let victim = '';
  let before = '';
  let cleanup = async (): Promise<void> => {};
  beforeEach(async () => {
    const d = await scratchDir(prefix);
    cleanup = d.cleanup;
    const rv = await rootAndVictim(d.dir);
    victim = rv.victim;
    before = await snapshot(victim);
    set({ base: d.dir, ...rv });
  });
  afterEach(async () => {
    try {
      expect(await snapshot(victim)).toBe(before);
    } finally {
      await cleanup();
    }
  });
  return { accept: async () => void (before = await snapshot(victim)) };
}
