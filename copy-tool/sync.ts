import type { Command } from 'commander';
import { posix } from 'node:path';
import { SkiffError } from '../shared/errors.ts';
import { parseImageName } from '../shared/ref/transport-name.ts';
import { openSource, openTarget } from '../shared/transport/open.ts';
import { copyImage, BlobScheduler } from '../shared/transport/copy-image.ts';
import { ProgressReporter, progressMode } from '../shared/cli/progress.ts';
import { storeRootOf } from '../shared/cli/program.ts';
import { addCopyOptions, commandSignal, debugOf, policyOf, registriesDirsOf, registryOptionsOf } from './options.ts';
import { addCopyShapeOptions, addSignOptions, copyOptionsOf, copySignerFor, type CopyFlags } from './copy.ts';
import { checkSourcePolicy } from '../shared/transport/source-policy.ts';
import type { CopySignFlags } from '../shared/signature/copy-signer.ts';
import { dirSource, registrySource, yamlSource, type SyncItem } from './sync-sources.ts';

/**
 * `sync --src docker|dir|yaml --dest docker|dir|oci SOURCE DESTINATION` as skopeo: destination names are
 * `DESTINATION/<last path element>` (or the full source path with `--scoped`); images whose destination already
 * holds the same manifest digest are skipped (one HEAD each); images copy in parallel with one shared blob
 * scheduler; `--keep-going` continues past failures and exits 1 at the end; `--dry-run` only prints the plan.
 */
export function addSyncCommand(program: Command): void {
  const cmd = program
    .command('sync')
    .description('synchronize one or more images from one location to another')
    .argument('<source>', 'registry repository, directory or YAML file')
    .argument('<destination>', 'registry namespace or directory')
    .requiredOption('-s, --src <transport>', "source transport: 'docker', 'dir' or 'yaml'")
    .requiredOption('-d, --dest <transport>', "destination transport: 'docker', 'dir' or 'oci'")
    .option('--scoped', 'prefix destination names with the full source image path')
    .option('--append-suffix <suffix>', 'string to append to destination tags')
    .option('--dry-run', 'only print what would be copied')
    .option('--keep-going', 'do not stop at the first image that fails to copy')
    .option('--parallel-images <n>', 'images copied at once (default 4)', (v) => Number.parseInt(v, 10));
  addCopyShapeOptions(cmd);
  addSignOptions(cmd);
  addCopyOptions(cmd).action(async (source: string, destination: string, f: CopyFlags & CopySignFlags & { src: string; dest: string; scoped?: boolean; appendSuffix?: string; dryRun?: boolean; keepGoing?: boolean; parallelImages?: number }) => {
    if (!['docker', 'dir', 'yaml'].includes(f.src)) throw new SkiffError('EINVALID', `${JSON.stringify(f.src)} is not a valid source transport`, { hint: "use 'docker', 'dir' or 'yaml'" });
    if (!['docker', 'dir', 'oci'].includes(f.dest)) throw new SkiffError('EINVALID', `${JSON.stringify(f.dest)} is not a valid destination transport`, { hint: "use 'docker', 'dir' or 'oci'" });
    if (f.src === 'dir' && f.dest === 'dir') throw new SkiffError('EINVALID', "sync from 'dir' to 'dir' is not implemented; use rsync instead");
    const { signal, dispose } = commandSignal(cmd);
    const progress = new ProgressReporter(progressMode(f.progress, f.quiet === true));
    try {
      const srcOpts = registryOptionsOf(cmd, 'src');
      const items: SyncItem[] = f.src === 'docker' ? await registrySource(source, srcOpts, { signal }) : f.src === 'dir' ? await dirSource(source) : await yamlSource(source, srcOpts, { signal });
      const plan = items.map((it) => ({ ...it, dest: destinationName(destination, it.suffix, f) }));
      if (f.dryRun) {
        for (const p of plan) process.stderr.write(`Would have copied ${p.source} to ${p.dest}\n`);
        return;
      }
      const base = copyOptionsOf(cmd, f, signal);
      const policy = await policyOf(cmd, signal);
      const debug = debugOf(cmd);
      const scheduler = new BlobScheduler(base.parallel ?? 6);
      const registriesDirs = registriesDirsOf(cmd);
      const destCtx = { storeRoot: storeRootOf(cmd), registry: registryOptionsOf(cmd, 'dest'), signal, tmpDir: base.tmpDir, registriesDirs };
      let failures = 0;
      let copied = 0;
      let unchanged = 0;
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < plan.length) {
          const p = plan[next++]!;
          try {
            const srcName = parseImageName(p.source);
            const dstName = parseImageName(p.dest);
            const sign = await copySignerFor(f, dstName, { signal });
            const src = await openSource(srcName, { ...destCtx, registry: p.registry });
            try {
              await checkSourcePolicy(src, srcName, policy, { signal, debug });
              const dst = await openTarget(dstName, destCtx);
              try {
                const r = await copyImage(src, dst, { ...base, scheduler, onProgress: progress.onEvent, sign });
                copied++;
                if (r.skipped) unchanged++;
              } finally {
                await dst.close();
              }
            } finally {
              await src.close();
            }
          } catch (e) {
            if (!f.keepGoing || signal.aborted) throw e;
            failures++;
            process.stderr.write(`Error copying ${p.source}: ${(e as Error).message}\n`);
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(f.parallelImages ?? 4, plan.length) }, worker));
      // skopeo's summary line, plus how many were already up to date at the destination (nothing uploaded)
      const sources = new Set(plan.map((p) => p.source.replace(/[:@][^:/@]*$/, ''))).size;
      if (!f.quiet) process.stderr.write(`Synced ${copied} images from ${sources} sources${unchanged > 0 ? ` (${unchanged} already up to date)` : ''}\n`);
      if (failures > 0) throw new SkiffError('EIO', `${failures} of ${plan.length} images failed to sync`);
    } finally {
      progress.finish();
      dispose();
    }
  });
}

/** skopeo's destination naming: DEST/<suffix or its last element> + append-suffix, in the destination transport. */
export function destinationName(destination: string, suffix: string, f: { dest: string; scoped?: boolean; appendSuffix?: string }): string {
  const s = f.scoped ? suffix : posix.basename(suffix);
  const joined = `${posix.join(destination, s)}${f.appendSuffix ?? ''}`;
  if (f.dest === 'docker') return `docker://${joined}`;
  if (f.dest === 'dir') return `dir:${joined}`;
  // oci: one layout per repository, the tag as the ref name
  const m = /^(.*?)(?::([^:/]+))?$/.exec(joined)!;
  return `oci:${m[1]}${m[2] ? `:${m[2]}` : ''}`;
}
