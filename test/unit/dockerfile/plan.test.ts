import { describe, expect, it } from 'vitest';
import { parseDockerfile } from '../../../shared/build/dockerfile/parse.ts';
import { planBuild } from '../../../shared/build/dockerfile/plan.ts';
import type { ImageConfig } from '../../../shared/oci/types.ts';

const empty = (cfg: ImageConfig['config'] = {}): ImageConfig => ({ architecture: 'amd64', os: 'linux', config: cfg, rootfs: { type: 'layers', diff_ids: [] } });
const linux = { os: 'linux', architecture: 'amd64' };

function runStage(text: string, o: Parameters<typeof planBuild>[1] = {}, base = empty()) {
  const plan = planBuild(parseDockerfile(text), { platform: linux, buildPlatform: linux, ...o });
  const last = plan.stages[plan.stages.length - 1]!;
  const scope = plan.beginStage(last.index, base);
  const steps = scope.instructions.map((i) => scope.step(i));
  return { plan, scope, steps };
}

describe('planBuild: args, expansion, config', () => {
  it('global ARG usable in FROM, must be re-declared in the stage', () => {
    const { plan, steps } = runStage('ARG TAG=1.0\nARG IMG=busybox\nFROM $IMG:${TAG}\nRUN echo $TAG\nARG TAG\nRUN echo $TAG\n');
    expect(plan.stages[0]!.base).toEqual({ kind: 'image', ref: 'busybox:1.0' });
    expect(steps[0]!.run!.env).toEqual([]);
    expect(steps[0]!.createdBy).toBe('/bin/sh -c echo $TAG');
    expect(steps[2]!.run!.env).toEqual(['TAG=1.0']);
    expect(steps[2]!.createdBy).toBe('|1 TAG=1.0 /bin/sh -c echo $TAG');
  });

  it('--build-arg overrides declared ARGs only; unused ones warn like buildah', () => {
    const { plan, steps, scope } = runStage('FROM scratch\nARG A=def\nARG B\nENV E=$A\nRUN x\n', { buildArgs: { A: 'cli', NOPE: '1', HTTP_PROXY: 'http://p' } });
    expect(scope.config.config!.Env).toEqual(['E=cli']);
    expect(steps[3]!.run!.env).toEqual(['A=cli', 'HTTP_PROXY=http://p', 'E=cli']);
    expect(steps[3]!.buildArgs).toEqual([['A', 'cli']]);
    expect(steps[3]!.createdBy).not.toMatch(/PROXY/);
    expect(plan.finish()).toEqual(['[Warning] one or more build args were not consumed: [NOPE]']);
  });

  it('ENV a=1 b=$a uses the old a; ENV wins over ARG; ARG never in Env', () => {
    const { scope } = runStage('FROM scratch\nARG V=arg\nENV a=1\nENV a=2 b=$a c=$V\nENV V=env\nLABEL l=$V\n');
    expect(scope.config.config!.Env).toEqual(['a=2', 'b=1', 'c=arg', 'V=env']);
    expect(scope.config.config!.Labels).toEqual({ l: 'env' });
  });

  it('platform args: automatic in FROM, declared in stages', () => {
    const { plan, steps } = runStage('FROM --platform=$BUILDPLATFORM scratch AS b\nARG TARGETARCH\nARG BUILDOS\nRUN x\n', { platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
    expect(plan.stages[0]!.platform).toEqual(linux);
    expect(steps[2]!.run!.env).toEqual(['TARGETARCH=arm64', 'BUILDOS=linux']);
  });

  it('platform args are normalised as containerd does (one parser with shared/image)', () => {
    const { steps } = runStage('FROM --platform=linux/aarch64/v8 scratch\nARG TARGETPLATFORM\nARG TARGETVARIANT\nRUN x\n', {
      platform: { os: 'linux', architecture: 'arm', variant: '7' },
    });
    expect(steps[2]!.run!.env).toEqual(['TARGETPLATFORM=linux/arm/v7', 'TARGETVARIANT=v7']);
    const fromStage = runStage('FROM --platform=Linux/x86_64 scratch\nRUN x\n');
    expect(fromStage.plan.stages[0]!.platform).toEqual({ os: 'linux', architecture: 'amd64' });
  });

  it('metadata instructions build the config; ENTRYPOINT resets inherited CMD; WORKDIR is relative', () => {
    const base = empty({ Cmd: ['sh'], Env: ['PATH=/bin'], WorkingDir: '/a' });
    const { scope, steps } = runStage(
      'FROM x\nWORKDIR b/../c\nWORKDIR d\nENTRYPOINT ["/app"]\nEXPOSE 80 53/UDP 8000-8001\nVOLUME /v\nUSER u\nSTOPSIGNAL SIGINT\nSHELL ["/bin/bash","-c"]\nHEALTHCHECK --interval=1m30s --timeout=500ms --retries=2 CMD true\nONBUILD RUN echo hi\nMAINTAINER me\n',
      {},
      base,
    );
    const c = scope.config.config!;
    expect(c.WorkingDir).toBe('/a/c/d');
    expect(c.Entrypoint).toEqual(['/app']);
    expect(c.Cmd).toBeUndefined();
    expect(Object.keys(c.ExposedPorts!)).toEqual(['80/tcp', '53/udp', '8000/tcp', '8001/tcp']);
    expect(c.Volumes).toEqual({ '/v': {} });
    expect(c.User).toBe('u');
    expect(c.StopSignal).toBe('SIGINT');
    expect(c.Shell).toEqual(['/bin/bash', '-c']);
    expect(c.Healthcheck).toEqual({ Test: ['CMD-SHELL', 'true'], Interval: 90e9, Timeout: 500e6, Retries: 2 });
    expect(c.OnBuild).toEqual(['RUN echo hi']);
    expect(scope.config.author).toBe('me');
    expect(steps[0]!.createdBy).toBe('/bin/sh -c #(nop) WORKDIR b/../c');
    expect(steps.every((s) => s.emptyLayer)).toBe(true);
  });

  it('CMD set in the stage survives a later ENTRYPOINT; shell form uses SHELL', () => {
    const { scope } = runStage('FROM x\nSHELL ["/bin/bash","-c"]\nCMD echo hi\nENTRYPOINT ["/e"]\n', {}, empty({ Cmd: ['old'] }));
    expect(scope.config.config!.Cmd).toEqual(['/bin/bash', '-c', 'echo hi']);
  });

  it('ONBUILD triggers run in the child, are cleared for grandchildren', () => {
    const { scope, steps } = runStage('FROM parent\nRUN own\n', {}, empty({ OnBuild: ['ENV FROM_TRIGGER=1'] }));
    expect(scope.instructions.map((i) => i.kind)).toEqual(['ENV', 'RUN']);
    expect(steps.length).toBe(2);
    expect(scope.config.config!.OnBuild).toBeUndefined();
    expect(scope.config.config!.Env).toEqual(['FROM_TRIGGER=1']);
  });

  it('RUN heredocs: shebang script, plain body, heredoc as stdin', () => {
    const { steps } = runStage('FROM x\nRUN <<EOF\n#!/bin/python3\nprint(1)\nEOF\nRUN <<EOF\necho a\nEOF\nRUN cat <<EOF > /f\nhi $X\nEOF\n');
    expect(steps[0]!.run!.script).toBe('#!/bin/python3\nprint(1)\n');
    expect(steps[1]!.run!.argv).toEqual(['/bin/sh', '-c', 'echo a\n']);
    expect(steps[2]!.run!.argv).toEqual(['/bin/sh', '-c', 'cat <<EOF > /f\nhi $X\nEOF']);
  });

  it('COPY: expansion, heredoc files (quoted = literal), dest rules, flags', () => {
    const { steps } = runStage("FROM x\nWORKDIR /w\nARG D=out\nCOPY --chown=$D:1 a* $D/\nCOPY <<'L' <<E sub/\n$D\nL\n$D\nE\nCOPY a b c\n".replace('COPY a b c\n', ''));
    const c = steps[2]!.copy!;
    expect(c.sources).toEqual(['a*']);
    expect(c.dest).toEqual({ path: '/w/out', isDir: true });
    expect(c.options.chown).toEqual({ user: 'out', group: '1' });
    expect(steps[3]!.copy!.inline).toEqual([{ name: 'L', body: '$D\n' }, { name: 'E', body: 'out\n' }]);
    expect(() => runStage('FROM x\nCOPY a b c\n')).toThrow(/Dockerfile:2:1: When using COPY with more than one source file/);
  });
});

describe('planBuild: stage graph', () => {
  const df = [
    'FROM scratch AS base', // 0
    'FROM base AS lib', // 1
    'FROM scratch AS tool', // 2
    'FROM scratch AS unused', // 3
    'FROM lib AS final', // 4
    'COPY --from=tool /t /t',
    'RUN --mount=type=bind,from=0,target=/m true',
    'COPY --from=alpine:3 /x /x',
  ].join('\n');

  it('only the stages the target needs, in order, with parallel levels', () => {
    const plan = planBuild(parseDockerfile(df), { platform: linux });
    expect(plan.stages.map((s) => s.index)).toEqual([0, 1, 2, 4]);
    expect(plan.stages.find((s) => s.index === 4)!.deps.sort()).toEqual([0, 1, 2]);
    expect(plan.stages.find((s) => s.index === 4)!.imageDeps).toEqual(['alpine:3']);
    expect(plan.levels).toEqual([[0, 2], [1], [4]]);
    const t = planBuild(parseDockerfile(df), { target: 'LIB', platform: linux });
    expect(t.stages.map((s) => s.index)).toEqual([0, 1]);
  });

  it('errors: unknown target, forward reference, self reference, bad index', () => {
    expect(() => planBuild(parseDockerfile(df), { target: 'nope' })).toThrow(/target stage "nope" could not be found/);
    expect(() => planBuild(parseDockerfile('FROM scratch AS a\nCOPY --from=b /x /x\nFROM scratch AS b\n'))).toThrow(/Dockerfile:2:1: forward reference/);
    expect(() => planBuild(parseDockerfile('FROM scratch AS a\nCOPY --from=a /x /x\n'))).toThrow(/circular dependency/);
    expect(() => planBuild(parseDockerfile('FROM scratch\nCOPY --from=7 /x /x\n'))).toThrow(/stage index 7/);
  });
});

describe('security cases', () => {
  it('BU-10 invalid mount options are refused', () => {
    const bad = [
      'type=bind,target=/m,bind-propagation=suid',
      'type=bind,target=/m,bogus=1',
      'type=cache,target=relative',
      'type=bind,target=/proc/self',
      'type=tmpfs,target=/sys/fs',
      'type=secret,id=s,rw',
      'type=secret,id=s,readonly=false',
      'type=weird,target=/x',
    ];
    for (const m of bad) {
      expect(() => runStage(`FROM x\nRUN --mount=${m} true\n`), m).toThrow(/Dockerfile:2:1: invalid mount option/);
    }
    const { steps } = runStage('FROM x\nRUN --mount=type=secret,id=tok,env=TOK --mount=type=cache,dst=/c,sharing=locked,mode=0700 --mount=type=ssh true\n');
    expect(steps[0]!.run!.options.mounts).toEqual([
      { type: 'secret', id: 'tok', env: 'TOK', required: false, mode: 0o400, uid: 0, gid: 0 },
      { type: 'cache', target: '/c', id: '/c', sharing: 'locked', readonly: false, mode: 0o700, uid: 0, gid: 0 },
      { type: 'ssh', id: 'default', target: '/run/buildkit/ssh_agent.0', required: false, mode: 0o600, uid: 0, gid: 0 },
    ]);
  });

  it('BU-11 --network=host, --security=insecure and --device need an explicit entitlement', async () => {
    const { checkEntitlements } = await import('../../../shared/build/dockerfile/run-flags.ts');
    const { steps } = runStage('FROM x\nRUN --network=host true\nRUN --security=insecure true\nRUN --device=/dev/fuse true\nRUN --network=none true\n');
    expect(() => checkEntitlements(steps[0]!.run!.options, [])).toThrow(/"network.host" entitlement/);
    expect(() => checkEntitlements(steps[1]!.run!.options, ['network.host'])).toThrow(/"security.insecure"/);
    expect(() => checkEntitlements(steps[2]!.run!.options, [])).toThrow(/"device"/);
    expect(() => checkEntitlements(steps[0]!.run!.options, ['network.host'])).not.toThrow();
    expect(() => checkEntitlements(steps[3]!.run!.options, [])).not.toThrow();
  });

  it('BU-05 WORKDIR under /proc is refused', () => {
    expect(() => runStage('FROM x\nWORKDIR /proc/self/fd/7\n')).toThrow(/Dockerfile:2:1: WORKDIR \/proc\/self\/fd\/7 is under \/proc/);
    expect(() => runStage('FROM x\nWORKDIR /\nWORKDIR proc/1/root\n')).toThrow(/under \/proc/);
  });
});
