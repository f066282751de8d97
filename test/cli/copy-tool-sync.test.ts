// copy-tool sync end to end against a real registry with htpasswd auth: docker → dir, dir → docker, YAML → docker
// (images, images-by-tag-regex, credentials, tls-verify), → oci, --scoped, --dry-run, --keep-going, and a second
// sync that uploads nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { scratchDir } from '../helpers/tmp.ts';
import { busyboxTarball, hasBusybox } from '../helpers/busybox.ts';
import { REGISTRY_BIN, sha256, startRegistry, type TestRegistry } from '../helpers/registry.ts';
import { ct, ctAsync, ctJson, ok, startCountingProxy } from '../helpers/copy-tool.ts';
import { refNames } from '../unit/transport/fixtures.ts';

const runTool = (args: string[]) => spawnSync(process.execPath, [join(import.meta.dirname, '../../bin/run-tool.mjs'), ...args], { encoding: 'utf8' });
const TAGS = ['t1', 't2', 't3', 't4', 't5'];

describe.skipIf(!hasBusybox || !existsSync(REGISTRY_BIN))('copy-tool sync', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let reg: TestRegistry;
  let root: string;
  let digest: string;
  let creds: string;
  let S: string[]; // source-side flags
  let D: string[]; // destination-side flags

  beforeAll(async () => {
    ({ dir, cleanup } = await scratchDir('skiff-ct-sync-'));
    reg = await startRegistry({ auth: 'htpasswd' });
    creds = `${reg.user}:${reg.password}`;
    S = ['--src-tls-verify=false', '--src-creds', creds];
    D = ['--dest-tls-verify=false', '--dest-creds', creds];
    root = join(dir, 'root');
    ok(runTool(['--root', root, 'import', busyboxTarball(dir), 'bb:1']), 'run-tool import');
    digest = ctJson<{ Digest: string }>(['inspect', '--root', root, 'store:bb:1']).Digest;
    for (const t of TAGS) ok(ct(['copy', '-q', '--root', root, ...D, 'store:bb:1', `docker://${reg.host}/src/app:${t}`]), `push ${t}`);
  });
  afterAll(async () => {
    await reg?.stop();
    await cleanup?.();
  });

  const tagsOf = (repo: string): string[] =>
    ctJson<{ Tags: string[] }>(['list-tags', '--tls-verify=false', '--creds', creds, `docker://${reg.host}/${repo}`]).Tags.sort();

  it('--src docker --dest dir writes one directory per tag and names how many images synced', () => {
    const r = ct(['sync', '--src', 'docker', '--dest', 'dir', ...S, `${reg.host}/src/app`, join(dir, 'dirs')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^Synced 5 images from 1 sources/m);
    expect(readdirSync(join(dir, 'dirs')).sort()).toEqual(TAGS.map((t) => `app:${t}`));
    for (const t of TAGS) expect(sha256(readFileSync(join(dir, 'dirs', `app:${t}`, 'manifest.json')))).toBe(digest);
  });

  it('--src dir --dest docker pushes every directory', () => {
    const r = ct(['sync', '--src', 'dir', '--dest', 'docker', ...D, join(dir, 'dirs'), `${reg.host}/mirror`]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/Synced 5 images/);
    expect(tagsOf('mirror/app')).toEqual(TAGS);
    expect(ctJson<{ Digest: string }>(['inspect', '--tls-verify=false', '--creds', creds, `docker://${reg.host}/mirror/app:t3`]).Digest).toBe(digest);
  });

  it('--src yaml: images, images-by-tag-regex, credentials and tls-verify from the file', () => {
    const yaml = join(dir, 'sync.yaml');
    writeFileSync(
      yaml,
      [
        `${reg.host}:`,
        '  images:',
        '    src/app:',
        '      - t1',
        `      - "${digest}"`,
        '  images-by-tag-regex:',
        '    src/app: ^t[45]$',
        '  credentials:',
        `    username: ${reg.user}`,
        `    password: ${reg.password}`,
        '  tls-verify: false',
        '',
      ].join('\n'),
    );
    // no --src-creds / --src-tls-verify: both come from the YAML file
    const r = ct(['sync', '--src', 'yaml', '--dest', 'docker', ...D, yaml, `${reg.host}/fromyaml`]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/Synced 4 images/);
    expect(tagsOf('fromyaml/app')).toEqual(['t1', 't4', 't5']);
    // a wrong password in the file fails, naming the registry
    writeFileSync(join(dir, 'bad.yaml'), readFileSync(yaml, 'utf8').replace(`password: ${reg.password}`, 'password: wrong'));
    const bad = ct(['sync', '--src', 'yaml', '--dest', 'docker', ...D, join(dir, 'bad.yaml'), `${reg.host}/badyaml`]);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/Error: .*(401|unauthori[sz]ed|credentials|authentication)/i);
    // unknown keys are refused before anything is copied
    writeFileSync(join(dir, 'typo.yaml'), `${reg.host}:\n  imagez:\n    src/app: [t1]\n`);
    const typo = ct(['sync', '--src', 'yaml', '--dest', 'docker', ...D, join(dir, 'typo.yaml'), `${reg.host}/typo`]);
    expect(typo.status).toBe(1);
    expect(typo.stderr).toMatch(/imagez/);
  });

  it('--dest oci writes one layout per repository with every tag', async () => {
    const r = ct(['sync', '--src', 'docker', '--dest', 'oci', ...S, `${reg.host}/src/app`, join(dir, 'layouts')]);
    expect(r.status, r.stderr).toBe(0);
    expect((await refNames(join(dir, 'layouts', 'app'))).sort()).toEqual(TAGS);
  });

  it('--scoped keeps the full source path under the destination', () => {
    const r = ct(['sync', '--scoped', '--src', 'docker', '--dest', 'dir', ...S, `${reg.host}/src/app:t2`, join(dir, 'scoped')]);
    expect(r.status, r.stderr).toBe(0);
    expect(sha256(readFileSync(join(dir, 'scoped', reg.host, 'src', 'app:t2', 'manifest.json')))).toBe(digest);
  });

  it('--dry-run prints the plan and writes nothing', () => {
    const r = ct(['sync', '--dry-run', '--src', 'docker', '--dest', 'docker', ...S, ...D, `${reg.host}/src/app`, `${reg.host}/dry`]);
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('Would have copied'));
    expect(lines).toHaveLength(5);
    expect(lines).toContain(`Would have copied docker://${reg.host}/src/app:t4 to docker://${reg.host}/dry/app:t4`);
    const ls = ct(['list-tags', '--tls-verify=false', '--creds', creds, `docker://${reg.host}/dry/app`]);
    expect(ls.status).toBe(2);
  });

  it('--keep-going copies the good images, reports the bad one and exits 1 at the end', () => {
    const yaml = join(dir, 'keep.yaml');
    writeFileSync(yaml, `${reg.host}:\n  images:\n    src/app: [t1, missing, t2]\n  credentials:\n    username: ${reg.user}\n    password: ${reg.password}\n  tls-verify: false\n`);
    const r = ct(['sync', '--keep-going', '--parallel-images', '1', '--src', 'yaml', '--dest', 'docker', ...D, yaml, `${reg.host}/keep`]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/src\/app:missing/);
    expect(r.stderr).toMatch(/1 of 3 images failed/);
    expect(tagsOf('keep/app')).toEqual(['t1', 't2']);
    // without --keep-going the first failure stops the sync with an error
    const stop = ct(['sync', '--parallel-images', '1', '--src', 'yaml', '--dest', 'docker', ...D, yaml, `${reg.host}/stop`]);
    expect(stop.status).not.toBe(0);
    expect(stop.stderr).toMatch(/missing/);
  });

  it('a second sync of 5 tags skips every image: no blob uploads, one manifest check per tag', async () => {
    const proxy = await startCountingProxy(reg.host);
    try {
      const args = ['sync', '--src', 'docker', '--dest', 'docker', ...S, ...D, `${proxy.host}/src/app`, `${proxy.host}/again`];
      const first = await ctAsync(args); // the in-process proxy needs the CLI to run asynchronously
      expect(first.status, first.stderr).toBe(0);
      expect(first.stderr).toMatch(/Synced 5 images/);
      proxy.requests.length = 0;
      const second = await ctAsync(args);
      expect(second.status, second.stderr).toBe(0);
      expect(second.stderr).toMatch(/Synced 5 images from 1 sources \(5 already up to date\)/);
      expect(second.stderr).not.toMatch(/^Copying (blob|config) [a-f0-9]{12} \(/m);
      const seen = proxy.requests.filter((q) => q.path.includes('/again/'));
      const uploads = seen.filter((q) => q.path.includes('/blobs/uploads') || (q.method === 'PUT' && q.path.includes('/blobs/')) || q.method === 'PATCH');
      expect(uploads, JSON.stringify(uploads)).toEqual([]);
      const blobChecks = seen.filter((q) => q.path.includes('/blobs/'));
      expect(blobChecks, JSON.stringify(blobChecks)).toEqual([]);
      const manifestReads = seen.filter((q) => q.path.includes('/manifests/') && (q.method === 'HEAD' || q.method === 'GET'));
      expect(manifestReads.length).toBeLessThanOrEqual(5);
    } finally {
      await proxy.stop();
    }
  });

  it('bad transports are refused', () => {
    expect(ct(['sync', '--src', 'oci', '--dest', 'dir', 'a', 'b']).status).toBe(1);
    expect(ct(['sync', '--src', 'dir', '--dest', 'dir', dir, join(dir, 'x')]).status).toBe(1);
  });
});
