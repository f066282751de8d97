import { describe, expect, it } from 'vitest';
import { parseBuildContextFlag } from '../../../shared/build/context/named-contexts.ts';
import { checkSubdir, isRemoteContext, parseGitContext } from '../../../shared/build/context/remote-context.ts';
import { parseSshFlag } from '../../../shared/build/context/ssh-sources.ts';
import { parseDockerfile } from '../../../shared/build/dockerfile/parse.ts';
import { planBuild } from '../../../shared/build/dockerfile/plan.ts';

const linux = { os: 'linux', architecture: 'amd64' };
const D = `sha256:${'ab'.repeat(32)}`;

describe('--build-context NAME=VALUE', () => {
  it('parses each value form (BuildKit spelling)', () => {
    expect(parseBuildContextFlag('lib=../lib')).toEqual(['lib', { kind: 'dir', path: '../lib' }]);
    expect(parseBuildContextFlag('Alpine=docker-image://localhost/alpine:3')).toEqual(['alpine', { kind: 'image', ref: 'localhost/alpine:3' }]);
    expect(parseBuildContextFlag(`base=oci-layout:///srv/layout@${D}`)).toEqual(['base', { kind: 'oci-layout', path: '/srv/layout', digest: D }]);
    expect(parseBuildContextFlag('base=oci-layout:///srv/layout:v1')).toEqual(['base', { kind: 'oci-layout', path: '/srv/layout', tag: 'v1' }]);
    expect(parseBuildContextFlag('base=oci-layout://rel/layout')).toEqual(['base', { kind: 'oci-layout', path: 'rel/layout' }]);
    expect(parseBuildContextFlag('src=http://127.0.0.1:8080/c.tar.gz')).toEqual(['src', { kind: 'remote', url: 'http://127.0.0.1:8080/c.tar.gz' }]);
    expect(parseBuildContextFlag('src=git://127.0.0.1/r.git#main:app')).toEqual(['src', { kind: 'remote', url: 'git://127.0.0.1/r.git#main:app' }]);
  });

  it('refuses malformed values with one line naming the flag', () => {
    for (const [v, re] of [
      ['lib', /want NAME=VALUE/],
      ['=dir', /want NAME=VALUE/],
      ['lib=', /the value is empty/],
      ['bad name=dir', /not a valid context name/],
      ['x=docker-image://', /needs an image reference/],
      ['x=oci-layout:///l@sha256:12', /not a sha256 digest/],
      ['x=oci-layout://@' + D, /needs a layout path/],
      ['x=s3://bucket/c.tar', /unsupported scheme/],
    ] as const) {
      expect(() => parseBuildContextFlag(v), v).toThrow(re);
      try {
        parseBuildContextFlag(v);
      } catch (e) {
        expect((e as Error).message, v).not.toContain('\n');
        expect((e as Error).message, v).toMatch(/^invalid --build-context /);
      }
    }
  });

  it('a named context overrides a stage and an image of that name in FROM and COPY --from', () => {
    const df = parseDockerfile('FROM busybox AS base\nRUN true\nFROM base\nCOPY --from=tools /x /x\nFROM alpine\nCOPY --from=base /y /y\n');
    const plain = planBuild(df, { platform: linux, buildPlatform: linux });
    expect(plain.stages.map((s) => [s.index, s.base])).toEqual([[0, { kind: 'image', ref: 'busybox' }], [2, { kind: 'image', ref: 'alpine' }]]);
    expect(plain.stages.find((s) => s.index === 2)!.deps).toEqual([0]);
    const named = planBuild(df, { platform: linux, buildPlatform: linux, namedContexts: new Set(['base', 'alpine', 'tools']) });
    // stage 0 is no longer needed: every reference to "base" is the context
    expect(named.stages.map((s) => [s.index, s.base])).toEqual([[2, { kind: 'context', name: 'alpine' }]]);
    expect(named.stages[0]!.imageDeps).toEqual(['base']);
    const mid = planBuild(df, { platform: linux, buildPlatform: linux, target: '1', namedContexts: new Set(['base']) });
    expect(mid.stages.map((s) => [s.index, s.base])).toEqual([[1, { kind: 'context', name: 'base' }]]);
  });
});

describe('remote contexts', () => {
  it('recognises the git forms docker and buildah accept, with #ref:subdir', () => {
    expect(parseGitContext('git://127.0.0.1/r.git')).toEqual({ url: 'git://127.0.0.1/r.git' });
    expect(parseGitContext('https://127.0.0.1:3000/org/r.git#v1.2:app/web')).toEqual({ url: 'https://127.0.0.1:3000/org/r.git', ref: 'v1.2', subdir: 'app/web' });
    expect(parseGitContext('ssh://git@127.0.0.1/r#:sub')).toEqual({ url: 'ssh://git@127.0.0.1/r', subdir: 'sub' });
    expect(parseGitContext('git@127.0.0.1:org/r.git#main')).toEqual({ url: 'git@127.0.0.1:org/r.git', ref: 'main' });
    expect(parseGitContext('http://127.0.0.1/c.tar.gz')).toBeUndefined();
    expect(parseGitContext('./dir')).toBeUndefined();
    expect(isRemoteContext('http://127.0.0.1/c.tar.gz')).toBe(true);
    expect(isRemoteContext('git://127.0.0.1/r')).toBe(true);
    expect(isRemoteContext('/srv/ctx')).toBe(false);
    expect(isRemoteContext('ctx.git')).toBe(false);
  });

  it('a #ref:subdir that climbs out or is absolute is refused before anything is fetched', () => {
    for (const s of ['..', '../x', 'a/../../b', '/etc', '/']) expect(() => checkSubdir(s), s).toThrow(/leads outside the repository/);
    expect(checkSubdir('a/./b/')).toBe('a/b/');
  });
});

describe('--ssh', () => {
  it('default takes $SSH_AUTH_SOCK; ID=PATH[,PATH] lists sockets or key files', () => {
    expect(parseSshFlag('default', { SSH_AUTH_SOCK: '/run/a.sock' })).toEqual(['default', ['/run/a.sock']]);
    expect(parseSshFlag('gh=/k1,/k2', {})).toEqual(['gh', ['/k1', '/k2']]);
    expect(() => parseSshFlag('default', {})).toThrow(/SSH_AUTH_SOCK is not set/);
    expect(() => parseSshFlag('gh=', {})).toThrow(/no path after gh=/);
    expect(() => parseSshFlag('=/k', {})).toThrow(/the id is empty/);
  });
});
