import { describe, expect, it } from 'vitest';
import { configLines, platformEdits, shellWords } from '../../../shared/build/working/steps.ts';
import { defaultName } from '../../../shared/build/working/containers.ts';

describe('scripting-verb helpers', () => {
  it("names working containers as buildah does: the image's last component without tag or digest", () => {
    expect(defaultName('localhost/busybox:latest')).toBe('busybox-working-container');
    expect(defaultName('127.0.0.1:5000/lib/alpine:3@sha256:' + 'a'.repeat(64))).toBe('alpine-working-container');
    expect(defaultName('127.0.0.1:5000/app')).toBe('app-working-container');
    expect(defaultName('scratch')).toBe('working-container');
    expect(defaultName('a'.repeat(64))).toBe('working-working-container');
  });

  it('splits --cmd words as shellwords does: quotes, escapes, no expansion', () => {
    expect(shellWords(`echo "a b" 'c $HOME' d\\ e`)).toEqual(['echo', 'a b', 'c $HOME', 'd e']);
    expect(shellWords('  x   ""  ')).toEqual(['x', '']);
    expect(() => shellWords('echo "open')).toThrow(/unterminated quote/);
  });

  it('turns config flags into instructions, JSON arrays kept and bad values refused before anything runs', () => {
    expect(configLines({ env: ['A=1 2', 'B='], cmd: '["sh","-c","x"]', entrypoint: 'run.sh --flag', labels: ['k=v', 'bare'], ports: ['80', '53/udp'], workingDir: '/w', user: '1000:1000' })).toEqual([
      'ENV A="1 2"',
      'ENV B=""',
      'LABEL "k"="v"',
      'LABEL "bare"=""',
      'ENTRYPOINT ["/bin/sh","-c","run.sh --flag"]',
      'CMD ["sh","-c","x"]',
      'WORKDIR "/w"',
      'USER 1000:1000',
      'EXPOSE 80',
      'EXPOSE 53/udp',
    ]);
    expect(configLines({ cmd: 'echo "hi there"' })).toEqual(['CMD ["echo","hi there"]']);
    expect(configLines({ cmd: '' })).toEqual(['CMD []']);
    expect(() => configLines({ env: ['NOVALUE'] })).toThrow(/invalid --env "NOVALUE"/);
    expect(() => configLines({ ports: ['http'] })).toThrow(/invalid --port "http"/);
    expect(() => configLines({ user: 'a\nRUN rm -rf /' })).toThrow(/line break/);
  });

  it('takes --arch/--os/--variant/--os-version as one word each', () => {
    expect(platformEdits({ arch: 'arm64', variant: 'v8', os: 'linux', osVersion: '10.0.1' })).toEqual({ architecture: 'arm64', variant: 'v8', os: 'linux', 'os.version': '10.0.1' });
    expect(platformEdits({})).toEqual({});
    expect(() => platformEdits({ arch: 'arm 64' })).toThrow(/invalid --arch "arm 64"/);
  });
});
