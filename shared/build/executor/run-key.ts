// The cache key part of a RUN step (what it runs, with which mounts, network and settings): computed for every RUN,
// hit or miss, so it lives apart from run-step.ts, whose container code loads only when a step runs.
import { lstat } from 'node:fs/promises';
import { posix } from 'node:path';
import { SkiffError } from '../../errors.ts';
import { resolveInRoot } from '../../runtime/in-root.ts';
import { checkEntitlements, type ResolvedStep } from '../dockerfile/index.ts';
import { runNetworkMode } from './run-network.ts';
import { selectionDigest, walkTree } from './tree.ts';
import type { BuildCtx } from './types.ts';

/** The key contributions of a RUN's bind mounts (content of context sources, stage keys of stage sources). */
export async function runKeyDescription(ctx: BuildCtx, step: ResolvedStep, stageIndex: number): Promise<unknown> {
  const run = step.run!;
  checkEntitlements(run.options, ctx.o.allow ?? []);
  const binds: unknown[] = [];
  for (const m of run.options.mounts) {
    if (m.type !== 'bind') continue;
    if (m.from !== undefined) {
      binds.push([m.target, 'from', await ctx.stageKey(m.from, stageIndex), m.source]);
      continue;
    }
    const host = await resolveInRoot(ctx.contextReal, m.source);
    const rel = posix.relative('/', posix.normalize(`/${m.source}`));
    const st = await lstat(host).catch(() => undefined);
    if (st === undefined) throw new SkiffError('ENOTFOUND', `RUN --mount source ${m.source} does not exist in the build context`);
    const entries = await walkTree(host, { matcher: ctx.ignore, ctxPrefix: rel === '.' ? '' : rel });
    binds.push([m.target, 'context', await selectionDigest(entries, ctx.digests)]);
  }
  return {
    argv: run.argv,
    script: run.script ?? null,
    env: run.env,
    mounts: run.options.mounts.map((m) => ({ ...m })),
    network: runNetworkMode(run.options.network, ctx.o.network),
    security: run.options.security,
    binds,
    // build-wide RUN settings enter the key only when given, so keys of builds without them stay as they were
    ...(ctx.o.capAdd?.length && { capAdd: ctx.o.capAdd }),
    ...(ctx.o.capDrop?.length && { capDrop: ctx.o.capDrop }),
    ...(ctx.o.runMounts?.length && { runMounts: ctx.o.runMounts.map((v) => [v.source, v.destination, v.options ?? []]) }),
  };
}
