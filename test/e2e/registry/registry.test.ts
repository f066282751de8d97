import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { openRepository, checkLogin } from '../../../shared/registry/repository.ts';
import { login, logout, lookupCredentials } from '../../../shared/registry/credentials.ts';
import { closeDispatchers } from '../../../shared/registry/tls.ts';
import type { RegistryOptions } from '../../../shared/registry/types.ts';
import type { Digest } from '../../../shared/oci/digest.ts';
import { MediaType } from '../../../shared/oci/media-types.ts';
import { isSkiffError } from '../../../shared/errors.ts';
import { REGISTRY_BIN, sha256, startRegistry, type TestRegistry } from '../../helpers/registry.ts';
import { scratchDir } from '../../helpers/tmp.ts';

const have = existsSync(REGISTRY_BIN);

async function readAll(s: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

function image(tag = 'x') {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, config: { Labels: { tag } } }));
  const layer = randomBytes(300_000);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: sha256(config), size: config.length },
      layers: [{ mediaType: MediaType.OciLayerGzip, digest: sha256(layer), size: layer.length }],
    }),
  );
  return { config, layer, manifest };
}

let scratch: { dir: string; cleanup: () => Promise<void> };
let base: RegistryOptions;

beforeAll(async () => {
  scratch = await scratchDir('skiff-reg-e2e-');
  const conf = join(scratch.dir, 'registries.conf');
  await writeFile(conf, '');
  base = { tlsVerify: false, registriesConf: conf, env: { HOME: scratch.dir }, retryBaseMs: 20 };
});
afterAll(async () => {
  await closeDispatchers();
  await scratch?.cleanup();
});

async function pushImage(reg: TestRegistry, repo: string, tag: string, opts: RegistryOptions) {
  const r = openRepository(reg.host, repo, opts);
  const img = image(tag);
  for (const b of [img.config, img.layer]) {
    if ((await r.headBlob(sha256(b) as Digest)) === undefined) await r.putBlob({ digest: sha256(b) as Digest, size: b.length }, Readable.from([b]));
  }
  const d = await r.putManifest(tag, img.manifest, MediaType.OciManifest);
  return { r, img, d };
}

describe.skipIf(!have)('registry client against docker-registry (anonymous, delete enabled)', () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry({ deleteEnabled: true });
  });
  afterAll(async () => reg?.stop());

  it('pushes blobs and a manifest, pulls them back verified, HEADs them', async () => {
    const { r, img, d } = await pushImage(reg, 'skiff/app', 'v1', base);
    expect(d).toBe(sha256(img.manifest));
    const m = await r.getManifest('v1');
    expect(Buffer.from(m.bytes).equals(img.manifest)).toBe(true);
    expect(m.mediaType).toBe(MediaType.OciManifest);
    expect((await r.getManifest(d)).digest).toBe(d);
    const h = await r.headManifest('v1');
    expect(h).toEqual({ mediaType: MediaType.OciManifest, digest: d, size: img.manifest.length });
    expect(await r.headBlob(sha256(img.layer) as Digest)).toBe(img.layer.length);
    expect(await r.headBlob(sha256('nope') as Digest)).toBeUndefined();
    const got = await readAll(await r.getBlob({ digest: sha256(img.layer) as Digest, size: img.layer.length }));
    expect(got.equals(img.layer)).toBe(true);
    await expect(r.getManifest('missing')).rejects.toMatchObject({ code: 'ENOTFOUND', message: expect.stringContaining('manifest unknown') });
    expect(await r.headManifest('missing')).toBeUndefined();
    await r.ping();
  });

  it('pushes in PATCH chunks', async () => {
    const r = openRepository(reg.host, 'skiff/chunked', { ...base, uploadChunkSize: 64 * 1024 });
    const blob = randomBytes(200_000);
    await r.putBlob({ digest: sha256(blob) as Digest, size: blob.length }, Readable.from([blob.subarray(0, 70_000), blob.subarray(70_000)]));
    expect(await r.headBlob(sha256(blob) as Digest)).toBe(blob.length);
    expect((await readAll(await r.getBlob({ digest: sha256(blob) as Digest, size: blob.length }))).equals(blob)).toBe(true);
  });

  it('refuses to push bytes that do not match the declared digest', async () => {
    const r = openRepository(reg.host, 'skiff/bad', base);
    const blob = randomBytes(1000);
    await expect(r.putBlob({ digest: sha256('other') as Digest, size: blob.length }, Readable.from([blob]))).rejects.toMatchObject({ code: 'EINTEGRITY' });
    expect(await r.headBlob(sha256(blob) as Digest)).toBeUndefined();
  });

  it('mounts a blob across repositories', async () => {
    const { img } = await pushImage(reg, 'skiff/src', 'm1', base);
    const dst = openRepository(reg.host, 'skiff/dst', base);
    expect(await dst.mountBlob(sha256(img.layer) as Digest, 'skiff/src')).toBe(true);
    expect(await dst.headBlob(sha256(img.layer) as Digest)).toBe(img.layer.length);
    expect(await dst.mountBlob(sha256('absent') as Digest, 'skiff/src')).toBe(false);
  });

  // distribution 2.8 ignores ?n= for tags (pagination arrived in v3); Link paging is tested against the fault server (RC-15)
  it('lists tags, asking for pages of n=2', async () => {
    const tags = ['a1', 'a2', 'a3', 'b1', 'b2'];
    for (const t of tags) await pushImage(reg, 'skiff/tags', t, base);
    const lines: string[] = [];
    const r = openRepository(reg.host, 'skiff/tags', { ...base, debug: (l) => lines.push(l) });
    expect((await r.listTags({ pageSize: 2 })).sort()).toEqual(tags);
    expect(lines.some((l) => l.includes('/tags/list?n=2'))).toBe(true);
    await expect(openRepository(reg.host, 'skiff/none', base).listTags()).rejects.toMatchObject({ code: 'ENOTFOUND' });
  });

  it('deletes a manifest by digest', async () => {
    const { r, d } = await pushImage(reg, 'skiff/del', 'gone', base);
    await r.deleteManifest(d);
    expect(await r.headManifest(d)).toBeUndefined();
    await expect(r.deleteManifest(d)).rejects.toMatchObject({ code: 'ENOTFOUND' });
  });
});

describe.skipIf(!have)('registry client with htpasswd (Basic) auth', () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry({ auth: 'htpasswd' });
  });
  afterAll(async () => reg?.stop());

  it('pushes and pulls with credentials; anonymous and wrong passwords are EPERM with a login hint', async () => {
    const creds = { username: reg.user, password: reg.password };
    const { r, img } = await pushImage(reg, 'priv/app', 'v1', { ...base, credentials: creds });
    expect(Buffer.from((await r.getManifest('v1')).bytes).equals(img.manifest)).toBe(true);
    const anon = openRepository(reg.host, 'priv/app', base);
    const e = await anon.getManifest('v1').catch((x: unknown) => x);
    expect(isSkiffError(e, 'EPERM')).toBe(true);
    expect((e as { hint: string }).hint).toMatch(/login/);
    const wrong = openRepository(reg.host, 'priv/app', { ...base, credentials: { username: reg.user, password: 'wrong' } });
    await expect(wrong.getManifest('v1')).rejects.toMatchObject({ code: 'EPERM' });
    await expect(wrong.getManifest('v1').catch((x: Error) => x.message)).resolves.not.toContain('wrong');
  });

  it('login verifies, writes auth.json 0600 that lookups then use; logout removes it', async () => {
    const authFile = join(scratch.dir, 'basic-auth', 'auth.json');
    await expect(login(reg.host, { username: reg.user, password: 'bad' }, { authFile, verify: () => checkLogin(reg.host, { username: reg.user, password: 'bad' }, base) })).rejects.toMatchObject({ code: 'EPERM' });
    expect(existsSync(authFile)).toBe(false);
    const creds = { username: reg.user, password: reg.password };
    const written = await login(reg.host, creds, { authFile, verify: () => checkLogin(reg.host, creds, base) });
    expect(written).toBe(authFile);
    expect((await stat(authFile)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(authFile, 'utf8')).auths[reg.host].auth).toBe(Buffer.from(`${reg.user}:${reg.password}`).toString('base64'));
    expect(await lookupCredentials(reg.host, 'priv/app', { authFile })).toEqual(creds);
    await pushImage(reg, 'priv/fromfile', 'v1', { ...base, authFile });
    await logout(reg.host, { authFile });
    expect(await lookupCredentials(reg.host, 'priv/app', { authFile })).toBeUndefined();
    await expect(logout(reg.host, { authFile })).rejects.toMatchObject({ code: 'ENOTFOUND' });
  });
});

describe.skipIf(!have)('registry client with Bearer token auth', () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry({ auth: 'token' });
  });
  afterAll(async () => reg?.stop());

  it('runs the token flow with Basic credentials, caching tokens per scope', async () => {
    const creds = { username: reg.user, password: reg.password };
    const { r, img } = await pushImage(reg, 'tok/app', 'v1', { ...base, credentials: creds });
    const before = reg.tokenRequests.length;
    expect(Buffer.from((await r.getManifest('v1')).bytes).equals(img.manifest)).toBe(true);
    await r.getManifest('v1');
    // one pull token for the new scope, then cached
    expect(reg.tokenRequests.length - before).toBeLessThanOrEqual(1);
    expect(reg.tokenRequests.every((t) => t.scopes.every((s) => s.startsWith('repository:tok/')))).toBe(true);
    await expect(openRepository(reg.host, 'tok/app', { ...base, credentials: { username: reg.user, password: 'nope' } }).getManifest('v1')).rejects.toMatchObject({ code: 'EPERM' });
    await expect(openRepository(reg.host, 'tok/app', base).getManifest('v1')).rejects.toMatchObject({ code: 'EPERM' });
  });

  it('uses the refresh-token POST flow when the username is <token>', async () => {
    const creds = { username: '<token>', password: reg.refreshToken };
    await pushImage(reg, 'tok/ident', 'v1', { ...base, credentials: creds });
    expect(reg.tokenRequests.some((t) => t.method === 'POST' && t.authorized)).toBe(true);
    await checkLogin(reg.host, { username: reg.user, password: reg.password }, base);
    await expect(checkLogin(reg.host, { username: reg.user, password: 'bad' }, base)).rejects.toMatchObject({ code: 'EPERM' });
  });

  it('mounts across repositories with a token covering both scopes', async () => {
    const creds = { username: reg.user, password: reg.password };
    const { img } = await pushImage(reg, 'tok/src', 'v1', { ...base, credentials: creds });
    const dst = openRepository(reg.host, 'tok/dst', { ...base, credentials: creds });
    expect(await dst.mountBlob(sha256(img.layer) as Digest, 'tok/src')).toBe(true);
    const last = reg.tokenRequests.at(-1)!;
    expect(last.scopes.sort()).toEqual(['repository:tok/dst:pull,push', 'repository:tok/src:pull']);
  });
});
