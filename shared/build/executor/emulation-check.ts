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

/** The platform whose executables a stage's RUN steps execute: the platform of the stage its chain starts from. */
export function runPlatformOf(plan: Pick<BuildPlan, 'stages'>, ps: PlannedStage): Platform {
  let cur = ps;
  for (let guard = 0; cur.base.kind === 'stage' && guard < plan.stages.length; guard++) {
    const idx = cur.base.index;
    const next = plan.stages.find((s) => s.index === idx);
    if (next === undefined) break;
    cur = next;
  }
  return cur.platform;
}

/** Throws (EUNSUPPORTED, one line) when a stage of `plan` has a RUN whose platform this machine cannot run. */
export async function requireEmulationFor(plan: Pick<BuildPlan, 'stages'>): Promise<void> {
  for (const ps of plan.stages) {
    const run = ps.stage.instructions.find((i) => i.kind === 'RUN');
    if (run === undefined) continue;
    await requireRunnable(runPlatformOf(plan, ps), `building at STEP "${stepText('RUN', run.text)}" (line ${run.loc.line})`);
  }
}

/**
 * requireEmulationFor over the plan of `o`'s Dockerfile for `platform` (parsed and planned here, nothing read from
 * the context or the store): lets a multi-platform build refuse before any of its platforms runs a step.
 */
export async function requireEmulationForBuild(o: Pick<BuildOptions, 'dockerfile' | 'target' | 'buildArgs'>, platform: Platform): Promise<void> {
  const df = parseDockerfile(o.dockerfile.text, { filename: o.dockerfile.path ?? 'Dockerfile' });
  await requireEmulationFor(planBuild(df, { target: o.target, buildArgs: o.buildArgs ?? {}, platform }));
}
