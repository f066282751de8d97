import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { authFileCandidates, login, logout, lookupCredentials } from '../../../shared/registry/credentials.ts';
import { scratchDir } from '../../helpers/tmp.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');
let t: { dir: string; cleanup: () => Promise<void> };
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  t = await scratchDir('skiff-creds-');
  const bin = join(t.dir, 'bin');
  await mkdir(bin);
  // a fake credential helper: knows helper.test, says "not found" otherwise
  await writeFile(
    join(bin, 'docker-credential-test'),
    '#!/bin/sh\nread server\nif [ "$server" = "helper.test" ]; then echo \'{"ServerURL":"helper.test","Username":"hu","Secret":"hs"}\'; else echo "credentials not found in native keychain"; exit 1; fi\n',
  );
  await chmod(join(bin, 'docker-credential-test'), 0o755);
  env = { HOME: join(t.dir, 'home'), XDG_RUNTIME_DIR: join(t.dir, 'run'), PATH: `${bin}:${process.env.PATH}` };
  await mkdir(join(t.dir, 'run/containers'), { recursive: true });
  await mkdir(join(t.dir, 'home/.config/containers'), { recursive: true });
  await mkdir(join(t.dir, 'home/.docker'), { recursive: true });
  await writeFile(
    join(t.dir, 'run/containers/auth.json'),
    JSON.stringify({ auths: { 'reg.test/team': { auth: b64('team:tpw') }, 'reg.test/team/app': { auth: b64('app:apw') } }, credHelpers: { 'helper.test': 'test' } }),
  );
  await writeFile(join(t.dir, 'home/.config/containers/auth.json'), JSON.stringify({ auths: { 'reg.test': { auth: b64('root:rpw') }, 'store.test': { auth: b64('cfg:cpw') } } }));
  await writeFile(join(t.dir, 'home/.docker/config.json'), JSON.stringify({ auths: { 'https://index.docker.io/v1/': { auth: b64('hub:hpw') }, 'docker.only': { auth: b64('d:dpw') } }, credsStore: 'test' }));
});
afterAll(async () => t?.cleanup());

describe('credentials', () => {
  it('looks files up in containers-auth.json order', () => {
    expect(authFileCandidates({ env })).toEqual([join(t.dir, 'run/containers/auth.json'), join(t.dir, 'home/.config/containers/auth.json'), join(t.dir, 'home/.docker/config.json')]);
    expect(authFileCandidates({ env: { ...env, REGISTRY_AUTH_FILE: '/x.json' } })).toEqual(['/x.json']);
    expect(authFileCandidates({ env, authFile: '/y.json' })).toEqual(['/y.json']);
  });

  it('prefers namespace-scoped keys, then the registry, across files in order', async () => {
    expect(await lookupCredentials('reg.test', 'team/app', { env })).toEqual({ username: 'app', password: 'apw' });
    expect(await lookupCredentials('reg.test', 'team/other', { env })).toEqual({ username: 'team', password: 'tpw' });
    expect(await lookupCredentials('reg.test', 'solo', { env })).toEqual({ username: 'root', password: 'rpw' });
    expect(await lookupCredentials('store.test', 'x', { env })).toEqual({ username: 'cfg', password: 'cpw' });
    expect(await lookupCredentials('docker.io', 'library/busybox', { env })).toEqual({ username: 'hub', password: 'hpw' });
    expect(await lookupCredentials('docker.only', 'x', { env })).toEqual({ username: 'd', password: 'dpw' });
    expect(await lookupCredentials('unknown.test', 'x', { env })).toBeUndefined();
  });

  it('runs credHelpers / credsStore programs with the registry on stdin', async () => {
    expect(await lookupCredentials('helper.test', 'any/repo', { env })).toEqual({ username: 'hu', password: 'hs' });
  });

  it('login writes auth.json 0600 atomically after verify succeeds; logout removes one or all', async () => {
    const e2 = { ...env, XDG_RUNTIME_DIR: join(t.dir, 'run2') };
    let verified = 0;
    const path = await login('new.test:5000', { username: 'n', password: 'npw' }, { env: e2, verify: async () => void verified++ });
    expect(path).toBe(join(t.dir, 'run2/containers/auth.json'));
    expect(verified).toBe(1);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    await login('other.test', { username: '<token>', password: 'idtok' }, { env: e2, verify: async () => {} });
    expect(await lookupCredentials('new.test:5000', 'r', { env: e2 })).toEqual({ username: 'n', password: 'npw' });
    expect(await lookupCredentials('other.test', 'r', { env: e2 })).toEqual({ username: '<token>', password: 'idtok' });
    await expect(login('bad.test', { username: 'x', password: 'y' }, { env: e2, verify: () => Promise.reject(new Error('no')) })).rejects.toThrow('no');
    expect(JSON.parse(await readFile(path, 'utf8')).auths['bad.test']).toBeUndefined();
    await logout('new.test:5000', { env: e2 });
    expect(Object.keys(JSON.parse(await readFile(path, 'utf8')).auths)).toEqual(['other.test']);
    await expect(logout('new.test:5000', { env: e2 })).rejects.toMatchObject({ code: 'ENOTFOUND' });
    await logout(undefined, { env: e2 });
    expect(JSON.parse(await readFile(path, 'utf8')).auths).toEqual({});
    await expect(login('../etc', { username: 'x', password: 'y' }, { env: e2, verify: async () => {} })).rejects.toMatchObject({ code: 'EINVALID' });
  });
});
