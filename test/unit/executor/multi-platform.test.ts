import { describe, expect, it } from 'vitest';
import { parseDockerfile } from '../../../shared/build/dockerfile/parse.ts';
import { planBuild } from '../../../shared/build/dockerfile/plan.ts';
import { runPlatformOf } from '../../../shared/build/executor/emulation-check.ts';
import { platformConcurrency } from '../../../shared/build/executor/multi-platform.ts';
import { createReporter } from '../../../shared/build/executor/report.ts';
import type { ImageConfig, Platform } from '../../../shared/oci/types.ts';

const amd64: Platform = { os: 'linux', architecture: 'amd64' };
const arm64: Platform = { os: 'linux', architecture: 'arm64' };
const base: ImageConfig = { architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [] } };

/** The RUN environments of every stage of a Dockerfile planned for `platform` on an amd64 build machine. */
function runEnvs(text: string, platform: Platform): string[][] {
  const plan = planBuild(parseDockerfile(text), { platform, buildPlatform: amd64 });
  return plan.stages.flatMap((s) => {
    const scope = plan.beginStage(s.index, base);
    return scope.instructions.map((i) => scope.step(i)).filter((st) => st.run).map((st) => st.run!.env);
  });
}

describe('multi-platform builds: per-platform args and the platform each RUN executes', () => {
  const df = 'FROM --platform=$BUILDPLATFORM scratch AS tools\nARG TARGETPLATFORM\nARG TARGETARCH\nARG BUILDPLATFORM\nRUN x\nFROM scratch\nARG TARGETARCH\nARG TARGETVARIANT\nARG BUILDARCH\nCOPY --from=tools /a /a\nRUN y\n';

  it('each platform of the list plans with its own TARGET* values; BUILD* stay the build machine', () => {
    expect(runEnvs(df, amd64)).toEqual([
      ['TARGETPLATFORM=linux/amd64', 'TARGETARCH=amd64', 'BUILDPLATFORM=linux/amd64'],
      ['TARGETARCH=amd64', 'TARGETVARIANT=', 'BUILDARCH=amd64'],
    ]);
    expect(runEnvs(df, arm64)).toEqual([
      ['TARGETPLATFORM=linux/arm64', 'TARGETARCH=arm64', 'BUILDPLATFORM=linux/amd64'],
      ['TARGETARCH=arm64', 'TARGETVARIANT=', 'BUILDARCH=amd64'],
    ]);
    expect(runEnvs(df, { os: 'linux', architecture: 'arm', variant: 'v7' })[1]).toEqual(['TARGETARCH=arm', 'TARGETVARIANT=v7', 'BUILDARCH=amd64']);
  });

  it('a stage FROM --platform=$BUILDPLATFORM (and a stage built FROM it) runs the build platform', () => {
    const plan = planBuild(parseDockerfile('FROM --platform=$BUILDPLATFORM scratch AS b\nRUN x\nFROM b AS c\nRUN y\nFROM scratch\nCOPY --from=c /a /a\n'), { platform: arm64, buildPlatform: amd64 });
    expect(plan.stages.map((s) => runPlatformOf(plan, s))).toEqual([amd64, amd64, arm64]);
  });

  it('--jobs N: up to N platforms at once, the stages of each share what is left', () => {
    expect(platformConcurrency(undefined, 2)).toEqual({ platforms: 1, stages: 1 });
    expect(platformConcurrency(1, 3)).toEqual({ platforms: 1, stages: 1 });
    expect(platformConcurrency(2, 2)).toEqual({ platforms: 2, stages: 1 });
    expect(platformConcurrency(8, 2)).toEqual({ platforms: 2, stages: 4 });
    expect(platformConcurrency(0, 2)).toEqual({ platforms: 1, stages: 1 });
  });

  it("a platform's reporter starts its progress lines with [os/arch] (json: a platform field); RUN output passes unchanged", () => {
    const lines: string[] = [];
    const out = { write: (c: string | Buffer) => (lines.push(c.toString()), true) } as unknown as NodeJS.WritableStream;
    const r = createReporter('plain', out, { label: 'linux/arm64' });
    r.step({ index: 0, count: 2 }, 1, 3, 'FROM x');
    r.cacheHit('abc');
    r.output(Buffer.from('aarch64\n'));
    r.warn('w');
    const j = createReporter('json', out, { label: 'linux/arm64' });
    j.cacheHit('abc');
    expect(lines).toEqual(['[linux/arm64] [1/2] STEP 1/3: FROM x\n', '[linux/arm64] --> Using cache abc\n', 'aarch64\n', '[linux/arm64] WARN: w\n', '{"event":"cache","id":"abc","platform":"linux/arm64"}\n']);
    lines.length = 0;
    createReporter('plain', out).step({ index: 0, count: 1 }, 1, 1, 'FROM x');
    expect(lines).toEqual(['STEP 1/1: FROM x\n']);
  });
});
