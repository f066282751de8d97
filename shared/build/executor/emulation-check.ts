/**
 * Before a build runs anything: every stage it builds that has a RUN must be able to run its platform's
 * executables here — natively or through a registered binfmt_misc emulator (shared/runtime/emulation.ts). A stage
 * FROM another stage runs that stage's platform (`FROM --platform=$BUILDPLATFORM … AS b` then `FROM b` runs the
 * build platform). COPY/ADD-only stages need no emulator. Fails with one line naming the first such RUN and its
 * platform, so nothing is run or stored for a build that could not finish.
 */
import type { Platform } from '../../oci/types.ts';
import { requireRunnable } from '../../runtime/emulation.ts';
import { parseDockerfile, planBuild } from '../dockerfile/index.ts';
import type { BuildPlan, PlannedStage } from '../dockerfile/plan.ts';
import type { BuildOptions } from './types.ts';
import { stepText } from './report.ts';

/** The stage a stage's chain of `FROM <earlier stage>` starts from (itself when its base is scratch or an image). */
export function rootStageOf(plan: Pick<BuildPlan, 'stages'>, ps: PlannedStage): PlannedStage {
  let cur = ps;
  for (let guard = 0; cur.base.kind === 'stage' && guard < plan.stages.length; guard++) {
    const idx = cur.base.index;
    const next = plan.stages.find((s) => s.index === idx);
    if (next === undefined) break;
    cur = next;
  }
  return cur;
}

/** The platform whose executables a stage's RUN steps execute as planned: that of the stage its chain starts from. */
export function runPlatformOf(plan: Pick<BuildPlan, 'stages'>, ps: PlannedStage): Platform {
  return rootStageOf(plan, ps).platform;
}

/**
 * The platform a base image gives a build that wants `want`, when known before the build (a stored image: an
 * index gives `want`, a single-platform image its config's own platform, used as it is); undefined when unknown.
 */
export type ImagePlatformLookup = (ref: string, want: Platform) => Promise<Platform | undefined>;

/**
 * Throws (EUNSUPPORTED, one line) when a stage of `plan` has a RUN whose platform this machine cannot run. A
 * chain starting from an image takes the image's platform from `imagePlatform` when it knows it (a stored
 * amd64-only base of an arm64 build runs natively), else the planned one.
 */
export async function requireEmulationFor(plan: Pick<BuildPlan, 'stages'>, imagePlatform?: ImagePlatformLookup): Promise<void> {
  for (const ps of plan.stages) {
    const run = ps.stage.instructions.find((i) => i.kind === 'RUN');
    if (run === undefined) continue;
    const root = rootStageOf(plan, ps);
    const p = (root.base.kind === 'image' && imagePlatform ? await imagePlatform(root.base.ref, root.platform) : undefined) ?? root.platform;
    await requireRunnable(p, `building at STEP "${stepText('RUN', run.text)}" (line ${run.loc.line})`);
  }
}

/**
 * requireEmulationFor over the plan of `o`'s Dockerfile for `platform` (parsed and planned here, nothing read from
 * the context): lets a multi-platform build refuse before any of its platforms runs a step.
 */
export async function requireEmulationForBuild(o: Pick<BuildOptions, 'dockerfile' | 'target' | 'buildArgs'>, platform: Platform, imagePlatform?: ImagePlatformLookup): Promise<void> {
  const df = parseDockerfile(o.dockerfile.text, { filename: o.dockerfile.path ?? 'Dockerfile' });
  await requireEmulationFor(planBuild(df, { target: o.target, buildArgs: o.buildArgs ?? {}, platform }), imagePlatform);
}
