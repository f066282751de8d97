import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseImageName } from '../../../shared/ref/transport-name.ts';
import { copyImage, type CopyResult } from '../../../shared/transport/copy-image.ts';
import { openSource, openTarget, type TransportContext } from '../../../shared/transport/open.ts';
import { acquireLock } from '../../../shared/store/lock.ts';
import { REGISTRY_BIN, startRegistry, type TestRegistry } from '../../helpers/registry.ts';
import { scratchDir } from '../../helpers/tmp.ts';
import { makeImage, putImage } from '../../unit/transport/fixtures.ts';

// The copy whose destination already has everything (issue 19): one manifest GET at the source, stats at the
// destination, and nothing rewritten there.
describe.skipIf(!existsSync(REGISTRY_BIN))('a copy into a layout that has every blob', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let reg: TestRegistry;
  let ctx: TransportContext;
  let ref: string;
  let digest: string;

  beforeAll(async () => {
    ({ dir, cleanup } = await scratchDir('skiff-noop-copy-'));
    reg = await startRegistry({ accessLog: true });
    ctx = { storeRoot: join(dir, 'store'), registry: { tlsVerify: false }, tmpDir: dir };
    const src = join(dir, 'src');
    digest = (await putImage(src, await makeImage('noop'), 'v1')).desc.digest;
    ref = `docker://${reg.host}/skiff/noop:1`;
    await copy(`oci:${src}:v1`, ref);
  });
  afterAll(async () => {
    await reg?.stop();
    await cleanup?.();
  });

  async function copy(from: string, to: string): Promise<CopyResult> {
    const s = await openSource(parseImageName(from), ctx);
    try {
      const t = await openTarget(parseImageName(to), ctx);
      try {
        return await copyImage(s, t);
      } finally {
        await t.close();
      }
    } finally {
      await s.close();
    }
  }

  it('reads the source manifest with one GET by tag (no HEAD first) and no blob', async () => {
    const out = join(dir, 'out');
    await copy(ref, `oci:${out}:x`);
    const before = (await reg.requests()).length;
    const r = await copy(ref, `oci:${out}:x`);
    expect(r).toMatchObject({ digest, skipped: true });
    const seen = (await reg.requests()).slice(before).filter((l) => l.includes('/skiff/noop/'));
    expect(seen.filter((l) => l.includes('/manifests/'))).toEqual([expect.stringMatching(/^GET \/v2\/skiff\/noop\/manifests\/1 /)]);
    expect(seen.filter((l) => l.includes('/blobs/'))).toEqual([]);
  });

  it('rewrites neither the manifest blob nor index.json', async () => {
    const out = join(dir, 'out2');
    await copy(ref, `oci:${out}:x`);
    const manifest = join(out, 'blobs/sha256', digest.slice(7));
    const mtimes = [statSync(manifest).mtimeMs, statSync(join(out, 'index.json')).mtimeMs];
    const ino = statSync(manifest).ino;
    await new Promise((r) => setTimeout(r, 20));
    expect((await copy(ref, `oci:${out}:x`)).skipped).toBe(true);
    expect([statSync(manifest).mtimeMs, statSync(join(out, 'index.json')).mtimeMs]).toEqual(mtimes);
    expect(statSync(manifest).ino).toBe(ino);
  });

  it('writes no temporary file: the copy succeeds where no temporary could be made', async () => {
    const out = join(dir, 'out4');
    await copy(ref, `oci:${out}:x`);
    // a file where the temporaries' directory goes: any write through it fails (ENOTDIR)
    rmSync(join(out, '.skiff-tmp'), { recursive: true, force: true });
    writeFileSync(join(out, '.skiff-tmp'), '');
    try {
      expect((await copy(ref, `oci:${out}:x`)).skipped).toBe(true);
    } finally {
      rmSync(join(out, '.skiff-tmp'), { force: true });
    }
  });

  it('through copy-tool, loads only its own bundle and no signing, policy-evaluation, YAML, tar, compression (zlib) or archive code', async () => {
    const out = join(dir, 'out5');
    await copy(ref, `oci:${out}:x`);
    const repo = resolve(import.meta.dirname, '../../..');
    const r = spawnSync(process.execPath, ['--import', join(repo, 'test/helpers/log-loads.mjs'), join(repo, 'bin/copy-tool.mjs'), 'copy', '-q', '--src-tls-verify=false', ref, `oci:${out}:x`], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const files = r.stderr.split('\n').filter((l) => l.startsWith('LOADED ')).map((l) => fileURLToPath(l.slice(7))).filter((f) => f.includes('/dist/'));
    expect(files.length).toBeGreaterThan(1); // the hook saw the bundle (it can fail)
    expect(files.filter((f) => !f.includes('/dist/hot/copy-tool-copy/')).map((f) => f.replace(repo, ''))).toEqual([]);
    const unwanted = /\/\/ (shared\/signature\/(sigstore|simple-signing|copy-signer|policy-evaluate)\.ts|shared\/transport\/(dir|store|oci-archive|docker-archive|archive-\w+|tarball)\.ts|shared\/layer\/(tar-|compression\.ts)|node_modules\/(tar-stream|tweetnacl|yaml|openpgp|smol-toml\/dist\/stringify)\/)/m;
    expect(files.filter((f) => unwanted.test(readFileSync(f, 'utf8'))).map((f) => f.replace(repo, ''))).toEqual([]);
  });

  it('takes no index lock when the layout already names the image: it completes while another writer holds the lock', async () => {
    const out = join(dir, 'out6');
    await copy(ref, `oci:${out}:x`);
    const held = await acquireLock(join(out, '.skiff-index.lock'));
    try {
      const done = copy(ref, `oci:${out}:x`);
      const r = await Promise.race([done, new Promise<'blocked'>((res) => setTimeout(() => res('blocked'), 5000))]);
      expect(r).toMatchObject({ digest, skipped: true });
    } finally {
      await held.release();
    }
  });

  it('still waits for the index lock when the name must change', async () => {
    const out = join(dir, 'out7');
    await copy(ref, `oci:${out}:x`);
    const held = await acquireLock(join(out, '.skiff-index.lock'));
    let finished = false;
    const done = copy(ref, `oci:${out}:y`).then((r) => ((finished = true), r));
    try {
      await new Promise((res) => setTimeout(res, 500));
      expect(finished).toBe(false);
    } finally {
      await held.release();
    }
    await expect(done).resolves.toMatchObject({ digest });
    const names = (JSON.parse(readFileSync(join(out, 'index.json'), 'utf8')) as { manifests: { annotations?: Record<string, string> }[] }).manifests.map((m) => m.annotations?.['org.opencontainers.image.ref.name']);
    expect(names.sort()).toEqual(['x', 'y']);
  });

  it('still stores a manifest the layout lacks, verified (the skip is only for a blob already there)', async () => {
    const out = join(dir, 'out3');
    await copy(ref, `oci:${out}:x`);
    rmSync(join(out, 'blobs/sha256', digest.slice(7)));
    await expect(copy(ref, `oci:${out}:x`)).resolves.toMatchObject({ digest });
    expect(existsSync(join(out, 'blobs/sha256', digest.slice(7)))).toBe(true);
  });
});
