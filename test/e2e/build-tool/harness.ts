import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeBusyboxImage } from '../../helpers/busybox.ts';
import { scratchDir } from '../../helpers/tmp.ts';
import { buildImage, type BuildOptions, type BuildResult } from '../../../shared/build/executor/build.ts';
import { createReporter } from '../../../shared/build/executor/report.ts';
import { openStore } from '../../../shared/store/store.ts';
import { lookupImage } from '../../../shared/store/lookup.ts';
import type { ImageConfig, Manifest } from '../../../shared/oci/types.ts';
import { exportRootfs } from '../../../shared/build/executor/image-out.ts';

/** A scratch world for build tests: a store with localhost/busybox, a context dir, a private runc root. */
export interface World {
  dir: string;
  root: string;
  ctx: string;
  runcRoot: string;
  log: string[];
  cleanup(): Promise<void>;
  /** Writes context files and returns once they are old enough to be memoised by the next build. */
  files(files: Record<string, string>): Promise<void>;
  build(dockerfile: string, o?: Partial<BuildOptions>): Promise<BuildResult>;
  image(name: string): Promise<{ manifest: Manifest; config: ImageConfig; rootfs: string }>;
}

/** Makes a World; the busybox base image is imported once per world. */
export async function makeWorld(): Promise<World> {
  const { dir, cleanup } = await scratchDir('skiff-build-');
  const root = join(dir, 'root');
  const ctx = join(dir, 'ctx');
  const runcRoot = join(dir, 'runc');
  await mkdir(ctx, { recursive: true });
  await makeBusyboxImage(root, dir);
  const log: string[] = [];
  let n = 0;
  const w: World = {
    dir,
    root,
    ctx,
    runcRoot,
    log,
    async cleanup() {
      // unmount anything left under the scratch dir (a failed test), then remove
      try {
        execFileSync('sh', ['-c', `awk -v d="${dir}/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l`]);
      } catch {
        /* nothing mounted */
      }
      await cleanup();
    },
    async files(files) {
      for (const [p, body] of Object.entries(files)) {
        await mkdir(join(ctx, p, '..'), { recursive: true });
        await writeFile(join(ctx, p), body);
      }
      // past the context memo's racy window (file-digests.ts racyWindowNs: ~22 ms for a fine timestamp), so a build
      // started now memoises these files and the next build's filesHashed counts only what a test changed
      await new Promise((r) => setTimeout(r, 60));
    },
    async build(dockerfile, o = {}) {
      const out = { write: (s: string | Buffer) => (log.push(s.toString()), true) } as unknown as NodeJS.WritableStream;
      return buildImage({ storeRoot: root, contextDir: ctx, dockerfile: { text: dockerfile }, runcRoot, reporter: createReporter('plain', out), ...o });
    },
    async image(name) {
      const store = await openStore(root);
      try {
        const found = await lookupImage(store.layout, name);
        const manifest = await store.blobs.readJson<Manifest>(found.descriptor);
        const config = await store.blobs.readJson<ImageConfig>(manifest.config);
        const rootfs = join(dir, `export-${++n}`);
        await exportRootfs(store, manifest.layers.map((l, i) => ({ descriptor: l, diffId: config.rootfs.diff_ids[i]! })), rootfs);
        return { manifest, config, rootfs };
      } finally {
        await store.close();
      }
    },
  };
  return w;
}
