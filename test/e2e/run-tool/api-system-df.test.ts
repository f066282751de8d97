// GET /system/df driven by real clients: `docker system df` and python3-docker's `client.df()` over a store with one
// image, one container and one volume. The service listens on a socket in this file's temp dir and is killed by PID
// at the end.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeApiWorld, startApiService, type ApiService, type ApiWorld } from '../../helpers/api-service.ts';
import { hasBusybox } from '../../helpers/busybox.ts';
import { isRoot } from '../../helpers/tmp.ts';
import { hasConmon, rt } from './core-helpers.ts';

const DOCKER = existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';
const hasDocker = spawnSync(DOCKER, ['--version']).status === 0;
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const hasPyDocker = spawnSync(PYTHON, ['-c', 'import docker']).status === 0;

let bundle = '';
let root = '';
let dir = '';
let sock = '';
let world: ApiWorld | undefined;
let service: ApiService | undefined;

describe.skipIf(!isRoot || !hasBusybox || !hasConmon)('run-tool system service: GET /system/df', () => {
  beforeAll(async () => {
    world = await makeApiWorld('skiff-api-df-');
    ({ bundle, dir, root, sock } = world);
    const vol = rt(bundle, root, ['volume', 'create', 'dfvol']);
    expect(vol.status, vol.stderr).toBe(0);
    const c = rt(bundle, root, ['create', '--name', 'dfctr', '--network', 'none', '-v', 'dfvol:/data', 'localhost/busybox', 'true']);
    expect(c.status, c.stderr).toBe(0);
    service = await startApiService({ bundle, root, sock });
  }, 120_000);
  afterAll(async () => {
    await service?.stop();
    await world?.close();
  });

  it('answers on the unversioned path as on the versioned one', async () => {
    const get = (path: string): Promise<{ status: number; body: Record<string, unknown[]> }> => new Promise((ok, bad) => {
      const req = request({ socketPath: sock, agent: false, method: 'GET', path }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => ok({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(parts).toString()) }));
      });
      req.on('error', bad);
      req.end();
    });
    const [plain, versioned] = [await get('/system/df'), await get('/v1.41/system/df')];
    expect([plain.status, versioned.status]).toEqual([200, 200]);
    for (const b of [plain.body, versioned.body]) expect([b.Images!.length, b.Containers!.length, b.Volumes!.length]).toEqual([1, 1, 1]);
  }, 60_000);

  it.skipIf(!hasDocker)('docker system df prints its TYPE rows: one image and one volume in use, one stopped container, no build cache', () => {
    const r = spawnSync(DOCKER, ['-H', `unix://${sock}`, 'system', 'df'], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, DOCKER_CONFIG: join(dir, 'docker-config') } });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^TYPE +TOTAL +ACTIVE +SIZE +RECLAIMABLE$/);
    expect(lines[1]).toMatch(/^Images +1 +1 +\S+ +0B \(0%\)$/);
    expect(lines[2]).toMatch(/^Containers +1 +0 +\S+ +\S+/);
    expect(lines[3]).toMatch(/^Local Volumes +1 +1 +\S+ +0B( \(0%\))?$/);
    expect(lines[4]).toMatch(/^Build Cache +0 +0 +0B +0B$/);
    const v = spawnSync(DOCKER, ['-H', `unix://${sock}`, 'system', 'df', '-v'], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, DOCKER_CONFIG: join(dir, 'docker-config') } });
    expect(v.status, v.stderr).toBe(0);
    expect(v.stdout).toMatch(/localhost\/busybox +latest +[0-9a-f]{12} /);
    expect(v.stdout).toMatch(/ dfctr\n/);
    expect(v.stdout).toMatch(/\ndfvol +1 +\S+\n/);
  }, 120_000);

  it.skipIf(!hasPyDocker)("python3-docker's client.df() returns Docker's keys with one image, one container and one volume", () => {
    const script = [
      'import docker, json, sys',
      'c = docker.DockerClient(base_url="unix://" + sys.argv[1])',
      'print(json.dumps(c.df()))',
    ].join('\n');
    const r = spawnSync(PYTHON, ['-c', script, sock], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const df = JSON.parse(r.stdout) as Record<string, any>;
    expect(Object.keys(df).sort()).toEqual(['BuildCache', 'Containers', 'Images', 'LayersSize', 'Volumes']);
    expect(df.LayersSize).toBeGreaterThan(0);
    expect(df.Images).toHaveLength(1);
    expect(Object.keys(df.Images[0]).sort()).toEqual(['Containers', 'Created', 'Id', 'Labels', 'ParentId', 'RepoDigests', 'RepoTags', 'SharedSize', 'Size', 'VirtualSize']);
    expect([df.Images[0].RepoTags, df.Images[0].Containers, df.Images[0].Size]).toEqual([['localhost/busybox:latest'], 1, df.LayersSize]);
    expect(df.Images[0].Id).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(df.Containers).toHaveLength(1);
    expect([df.Containers[0].Names, df.Containers[0].State, df.Containers[0].ImageID]).toEqual([['/dfctr'], 'created', df.Images[0].Id]);
    expect(df.Containers[0].SizeRootFs).toBe(df.Containers[0].SizeRw + df.Images[0].Size);
    expect(df.Volumes).toHaveLength(1);
    expect([df.Volumes[0].Name, df.Volumes[0].Driver, df.Volumes[0].UsageData.RefCount]).toEqual(['dfvol', 'local', 1]);
    expect(df.Volumes[0].UsageData.Size).toBeGreaterThanOrEqual(0);
    expect(df.BuildCache).toEqual([]);
  }, 120_000);
});
