// The pure parts of run-tool's Docker API: create-body translation, filters, URL versions, listen targets, log
// frames, the removed-exit record, and the label filter semantics of the list operation.
import { mkdtemp, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createOptionsOf } from '../../../run-tool/api/create-body.ts';
import { logFrame } from '../../../run-tool/api/containers.ts';
import { pullRegistryOptions } from '../../../run-tool/api/images.ts';
import { dockerEvent } from '../../../run-tool/api/events.ts';
import { dockerFilters, statusOf } from '../../../run-tool/api/http-util.ts';
import { splitUrl } from '../../../run-tool/api/router.ts';
import { defaultSocketPath, listenTarget } from '../../../run-tool/api/service.ts';
import { recordRemovedExit, removedExitCode, REMOVED_EXIT_TTL_MS } from '../../../run-tool/containers/removed-exits.ts';
import type { LoadedContainer } from '../../../run-tool/containers/state.ts';
import { checkWaitCondition } from '../../../run-tool/ops/container-lifecycle.ts';
import { staysInside } from '../../../run-tool/ops/copy-container.ts';
import { matchFilter } from '../../../run-tool/ops/list-containers.ts';
import { SkiffError } from '../../../shared/errors.ts';

describe('createOptionsOf', () => {
  it('translates Docker\'s create body into the create operation\'s options', () => {
    const o = createOptionsOf({
      Image: 'busybox', Cmd: ['sh', '-c', 'true'], Env: ['A=1'], Labels: { a: 'b' }, Tty: false, OpenStdin: true,
      ExposedPorts: { '80/tcp': {} }, Volumes: { '/anon': {} }, StopSignal: 'SIGINT', StopTimeout: 3,
      Healthcheck: { Test: ['CMD-SHELL', 'true'], Interval: 2e9, Retries: 2 },
      HostConfig: {
        Binds: ['vol1:/data:ro'], PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }] }, AutoRemove: true,
        RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 2 }, NetworkMode: 'none', Memory: 0, MemorySwappiness: -1,
        ConsoleSize: [0, 0], Tmpfs: { '/run': 'size=1m' }, Init: true,
      },
    }, 'c1');
    expect(o).toMatchObject({
      image: 'busybox', name: 'c1', args: ['sh', '-c', 'true'], env: ['A=1'], labels: { a: 'b' }, interactive: true, tty: false,
      stopSignal: 'SIGINT', stopTimeout: 3, rm: true, restart: { name: 'on-failure', maximumRetryCount: 2 }, network: 'none', init: true,
      ports: [{ hostIP: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'tcp' }],
      volumes: [{ name: 'vol1', destination: '/data', options: ['ro'] }, { name: '', destination: '/anon', options: [] }],
      mounts: [{ type: 'tmpfs', destination: '/run', options: ['size=1m'] }],
      health: { test: ['CMD-SHELL', 'true'], interval: 2000, timeout: 30_000, retries: 2, startPeriod: 0 },
    });
    expect(o.memory).toBeUndefined();
  });

  it('takes the network from NetworkingConfig when NetworkMode is the default', () => {
    expect(createOptionsOf({ Image: 'x', HostConfig: { NetworkMode: 'default' }, NetworkingConfig: { EndpointsConfig: { proj_default: { Aliases: ['web'] } } } }, undefined).network).toBe('proj_default');
  });

  it('refuses unknown fields, a missing image, wrong types and set fields skiff does not implement', () => {
    expect(() => createOptionsOf({ Image: 'x', Bogus: 1 }, undefined)).toThrow('unknown field "Bogus" in the container create body');
    expect(() => createOptionsOf({ Cmd: ['x'] }, undefined)).toThrow(/^Image is required/);
    expect(() => createOptionsOf({ Image: 'x', Env: 'A=1=' }, undefined)).not.toThrow();
    expect(() => createOptionsOf({ Image: 'x', Env: [1] }, undefined)).toThrow('Env must be a list of strings');
    expect(() => createOptionsOf({ Image: 'x', HostConfig: { CpuShares: 512 } }, undefined)).toThrow('HostConfig.CpuShares is not supported by skiff');
    expect(() => createOptionsOf({ Image: 'x', HostConfig: { VolumesFrom: ['a'] } }, undefined)).toThrow('HostConfig.VolumesFrom is not supported by skiff');
    expect(() => createOptionsOf({ Image: 'x', HostConfig: { CpuShares: 0, MemorySwappiness: -1 } }, undefined)).not.toThrow();
  });
});

describe('dockerFilters', () => {
  it('reads the list and the map encodings', () => {
    expect(dockerFilters(new URLSearchParams({ filters: '{"label":["a=b","c"],"status":["running"]}' }))).toEqual(['label=a=b', 'label=c', 'status=running']);
    expect(dockerFilters(new URLSearchParams({ filters: '{"label":{"a=b":true,"x":false}}' }))).toEqual(['label=a=b']);
    expect(dockerFilters(new URLSearchParams())).toEqual([]);
    expect(() => dockerFilters(new URLSearchParams({ filters: '{bad' }))).toThrow(/^invalid filters/);
  });
});

describe('label filters of the list operation', () => {
  const c = { record: { id: 'a'.repeat(64), name: 'n', config: { labels: { app: 'web', tier: 'front' } }, image: { name: 'img', id: 'sha256:1' } }, state: { status: 'running', exitCode: 0 } } as unknown as LoadedContainer;
  it('must all match (AND), other keys\' values are alternatives', () => {
    expect(matchFilter(c, ['label=app=web', 'label=tier=front'])).toBe(true);
    expect(matchFilter(c, ['label=app=web', 'label=tier=back'])).toBe(false);
    expect(matchFilter(c, ['status=exited', 'status=running'])).toBe(true);
  });
});

describe('splitUrl', () => {
  it('strips the version prefix, keeps the query, and refuses versions below 1.24', () => {
    expect(splitUrl('/v1.41/containers/json?all=1')).toMatchObject({ path: '/containers/json' });
    expect(splitUrl('/v1.41/containers/json?all=1').query.get('all')).toBe('1');
    expect(splitUrl('/_ping').path).toBe('/_ping');
    expect(splitUrl('/v1.24/info').path).toBe('/info');
    expect(() => splitUrl('/v1.23/info')).toThrow('client version 1.23 is too old. Minimum supported API version is 1.24');
  });
});

describe('listenTarget', () => {
  it('default socket per user, unix and tcp URIs, LISTEN_FDS for this process only', () => {
    expect(defaultSocketPath({}, 0)).toBe('/run/skiff/skiff.sock');
    expect(defaultSocketPath({ XDG_RUNTIME_DIR: '/run/user/1000' }, 1000)).toBe('/run/user/1000/skiff/skiff.sock');
    expect(() => defaultSocketPath({}, 1000)).toThrow(/XDG_RUNTIME_DIR is not set/);
    expect(listenTarget('unix:///tmp/x.sock', {})).toEqual({ kind: 'unix', path: '/tmp/x.sock' });
    expect(listenTarget('tcp://127.0.0.1:2375', {})).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 2375 });
    expect(listenTarget('tcp://[::1]:2375', {})).toEqual({ kind: 'tcp', host: '::1', port: 2375 });
    expect(() => listenTarget('http://x', {})).toThrow(/want unix:\/\/\/PATH or tcp:\/\/HOST:PORT/);
    expect(() => listenTarget('unix://rel.sock', {})).toThrow(/ABSOLUTE/);
    expect(listenTarget(undefined, { LISTEN_FDS: '2', LISTEN_PID: '42' }, 42)).toEqual({ kind: 'fds', fds: [3, 4] });
    expect(listenTarget('unix:///tmp/x.sock', { LISTEN_FDS: '1', LISTEN_PID: '41' }, 42)).toEqual({ kind: 'unix', path: '/tmp/x.sock' });
  });
});

describe('logFrame and errors', () => {
  it('frames an entry as stream byte, three zeros, big-endian length, text', () => {
    expect(logFrame({ time: '2026-01-01T00:00:00Z', stream: 'stderr', text: 'hi\n' }, false).toString('hex')).toBe('0200000000000003' + Buffer.from('hi\n').toString('hex'));
    expect(logFrame({ time: 'T', stream: 'stdout', text: 'x\n' }, true).subarray(8).toString()).toBe('T x\n');
  });
  it('maps skiff error codes to Docker\'s statuses', () => {
    expect(statusOf(new SkiffError('ENOTFOUND', 'x'))).toBe(404);
    expect(statusOf(new SkiffError('EEXIST', 'x'))).toBe(409);
    expect(statusOf(new SkiffError('EINVALID', 'x'))).toBe(400);
    expect(statusOf(new SkiffError('EUNSAFE', 'x'))).toBe(400);
    expect(statusOf(new SkiffError('ELIMIT', 'x'))).toBe(413);
    expect(statusOf(new Error('x'))).toBe(500);
  });
  it('wait conditions and tar entry names', () => {
    expect(checkWaitCondition('')).toBe('not-running');
    expect(checkWaitCondition('removed')).toBe('removed');
    expect(() => checkWaitCondition('gone')).toThrow(/invalid condition "gone"/);
    expect(staysInside('a/b/../c')).toBe(true);
    expect(staysInside('a/../../c')).toBe(false);
    expect(staysInside('../x')).toBe(false);
    expect(staysInside('./x/./y')).toBe(true);
  });
});

describe('removed-exit record', () => {
  it('keeps a removed container\'s exit code for five minutes', async () => {
    const root = await mkdtemp(join(tmpdir(), 'skiff-exits-'));
    try {
      const id = 'b'.repeat(64);
      expect(await removedExitCode(root, id)).toBeUndefined();
      await recordRemovedExit(root, id, 3);
      expect(await removedExitCode(root, id)).toBe(3);
      expect(await removedExitCode(root, id, Date.now() + REMOVED_EXIT_TTL_MS + 1000)).toBeUndefined();
      const old = new Date(Date.now() - REMOVED_EXIT_TTL_MS - 1000);
      await utimes(join(root, 'exits', id), old, old);
      await recordRemovedExit(root, 'c'.repeat(64), 0);
      expect(await removedExitCode(root, id, Date.now() - 2 * REMOVED_EXIT_TTL_MS)).toBeUndefined();
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('events: dockerEvent', () => {
  it('turns a logged event into Docker\'s shape: die/destroy actions, exit code and labels as attributes, time in s and ns', () => {
    const id = 'a'.repeat(64);
    const e = dockerEvent({ ContainerExitCode: 3, ID: id, Image: 'localhost/busybox:latest', Name: 'c1', Status: 'died', Time: '2026-12-07T03:27:09.852334441Z', Type: 'container', Attributes: { app: 'x' } });
    expect(e).toEqual({
      status: 'die', id, from: 'localhost/busybox:latest', Type: 'container', Action: 'die', scope: 'local',
      Actor: { ID: id, Attributes: { app: 'x', image: 'localhost/busybox:latest', name: 'c1', exitCode: '3' } },
      time: 1796614029, timeNano: 1796614029852334441,
    });
    expect(dockerEvent({ ID: id, Image: 'i', Name: 'c1', Status: 'remove', Time: '2026-12-07T03:27:09Z', Type: 'container', Attributes: {} }).Action).toBe('destroy');
    expect(dockerEvent({ ID: 'b'.repeat(64), Name: 'localhost/x:1', Status: 'tag', Time: '2026-12-07T03:27:09Z', Type: 'image', Attributes: null })).toMatchObject({ Type: 'image', Action: 'tag', Actor: { ID: 'b'.repeat(64), Attributes: { name: 'localhost/x:1' } } });
  });
});

describe('pullRegistryOptions', () => {
  it('allows plain HTTP to a loopback registry only, and reads X-Registry-Auth', () => {
    expect(pullRegistryOptions('127.0.0.1:5000/lib/x:1', undefined)).toEqual({ tlsVerify: false });
    expect(pullRegistryOptions('localhost:5000/x', undefined)).toEqual({ tlsVerify: false });
    expect(pullRegistryOptions('[::1]:5000/x', undefined)).toEqual({ tlsVerify: false });
    expect(pullRegistryOptions('registry.example/x', undefined)).toEqual({});
    expect(pullRegistryOptions('busybox', undefined)).toEqual({});
    const auth = Buffer.from(JSON.stringify({ username: 'u', password: 'p', serveraddress: 'r' })).toString('base64url');
    expect(pullRegistryOptions('registry.example/x', auth)).toEqual({ credentials: { username: 'u', password: 'p' } });
    expect(() => pullRegistryOptions('x', '!!notjson')).toThrow(/invalid X-Registry-Auth header/);
  });
});
