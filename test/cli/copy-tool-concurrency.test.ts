// copy-tool under concurrency and interruption, through the CLI: 8 parallel copies into one OCI layout and into
// the store lose no tag (LS-09); SIGINT during a large copy exits promptly and leaves no tag, temp file or
// half-written archive.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { scratchDir } from '../helpers/tmp.ts';
import { REGISTRY_BIN, startRegistry, type TestRegistry } from '../helpers/registry.ts';
import { COPY_TOOL, ct, ctAsync, ctJson, ok } from '../helpers/copy-tool.ts';
import { makeImage, putImage, refNames } from '../unit/transport/fixtures.ts';

const runTool = (args: string[]) => spawnSync(process.execPath, [join(import.meta.dirname, '../../bin/run-tool.mjs'), ...args], { encoding: 'utf8', timeout: 120_000 });

/** Every file below `d` (relative paths), for leftover checks. */
function walk(d: string, base = d): string[] {
  if (!existsSync(d)) return [];
  return readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name), base) : [join(d, e.name).slice(base.length + 1)]));
}

describe.skipIf(!existsSync(REGISTRY_BIN))('copy-tool concurrency and interruption', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let reg: TestRegistry;
  let root: string;
  const digests: string[] = [];
  let spool: string;

  beforeAll(async () => {
    ({ dir, cleanup } = await scratchDir('skiff-ct-conc-'));
    reg = await startRegistry();
    root = join(dir, 'root');
    spool = join(dir, 'spool');
    mkdirSync(spool);
    for (let i = 0; i < 8; i++) digests.push((await putImage(join(dir, 'src'), await makeImage(`conc-${i}`, { shared: 'base' }), `s${i}`)).desc.digest);
    // a ~200 MB incompressible layer, imported into the store
    const big = join(dir, 'big');
    mkdirSync(big);
    ok(spawnSync('sh', ['-c', `head -c 200000000 /dev/urandom > ${big}/random.bin && tar -C ${big} -cf ${dir}/big.tar random.bin && rm ${big}/random.bin`], { encoding: 'utf8' }), 'make big tar');
    ok(runTool(['--root', root, 'import', join(dir, 'big.tar'), 'big:1']), 'import big');
  });
  afterAll(async () => {
    await reg?.stop();
    await cleanup?.();
  });

  it('LS-09 8 parallel copy-tool copies into one oci: layout lose no tag', async () => {
    const dst = join(dir, 'shared-layout');
    const runs = await Promise.all(digests.map((_, i) => ctAsync(['copy', '-q', `oci:${dir}/src:s${i}`, `oci:${dst}:d${i}`])));
    for (const r of runs) expect(r.status, r.stderr).toBe(0);
    expect((await refNames(dst)).sort()).toEqual(digests.map((_, i) => `d${i}`));
    for (let i = 0; i < 8; i++) expect(ctJson<{ Digest: string }>(['inspect', `oci:${dst}:d${i}`]).Digest).toBe(digests[i]);
    expect(spawnSync('skopeo', ['inspect', `oci:${dst}:d7`]).status).toBe(0);
  });

  it('LS-09 8 parallel copy-tool copies into store: lose no tag', async () => {
    const store = join(dir, 'store8');
    const runs = await Promise.all(digests.map((_, i) => ctAsync(['copy', '-q', '--root', store, `oci:${dir}/src:s${i}`, `store:app:${i}`])));
    for (const r of runs) expect(r.status, r.stderr).toBe(0);
    for (let i = 0; i < 8; i++) expect(ctJson<{ Digest: string }>(['inspect', '--root', store, `store:app:${i}`]).Digest).toBe(digests[i]);
    expect((await refNames(join(store, 'images'))).sort()).toEqual(digests.map((_, i) => `localhost/app:${i}`).sort());
  });

  /** Starts a copy, sends SIGINT once the first blob starts, and returns how it ended and how long it took. */
  function interrupt(args: string[]): Promise<{ status: number | null; signal: NodeJS.Signals | null; ms: number; stderr: string }> {
    return new Promise((res, rej) => {
      // temp files (recompression spools, unpacked archives) go to a private --tmpdir the caller checks
      const child = spawn(process.execPath, [COPY_TOOL, '--tmpdir', spool, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      let sent = 0;
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
        if (!sent && /Copying blob/.test(stderr)) {
          sent = Date.now();
          setTimeout(() => child.kill('SIGINT'), 150);
        }
      });
      child.on('error', rej);
      child.on('close', (status, signal) => res({ status, signal, ms: sent ? Date.now() - sent : -1, stderr }));
    });
  }

  it('SIGINT during a large copy to oci-archive: exits promptly non-zero, no archive, no temp file', async () => {
    const out = join(dir, 'int-archive');
    mkdirSync(out);
    const r = await interrupt(['copy', '--progress', 'plain', '--root', root, '--dest-compress-format', 'zstd', 'store:big:1', `oci-archive:${out}/big.tar:1`]);
    expect(r.ms, r.stderr).toBeGreaterThan(0);
    expect(r.status === null ? r.signal : r.status, r.stderr).not.toBe(0);
    expect(r.ms).toBeLessThan(5000);
    expect(walk(out)).toEqual([]);
    expect(walk(spool)).toEqual([]);
  });

  it('SIGINT during a large copy to oci: and to docker-archive: leaves no tag and no temp files', async () => {
    const layout = join(dir, 'int-layout');
    ok(ct(['copy', '-q', `oci:${dir}/src:s0`, `oci:${layout}:keep`]), 'seed layout');
    const before = walk(layout).filter((f) => f.startsWith('blobs/')).sort();
    const r = await interrupt(['copy', '--progress', 'plain', '--root', root, '--dest-compress-format', 'zstd', 'store:big:1', `oci:${layout}:big`]);
    expect(r.status, r.stderr).not.toBe(0);
    expect(r.ms).toBeLessThan(5000);
    expect(await refNames(layout)).toEqual(['keep']);
    // nothing but the blobs that were there before (and whatever finished completely, which is referenced by nothing)
    const leftovers = walk(layout).filter((f) => !f.startsWith('blobs/') && !['index.json', 'oci-layout'].includes(f) && !f.startsWith('.skiff-index.lock'));
    expect(leftovers).toEqual([]);
    for (const f of walk(layout).filter((x) => x.startsWith('blobs/') && !before.includes(x))) expect(f).toMatch(/^blobs\/sha256\/[a-f0-9]{64}$/);

    const out = join(dir, 'int-docker');
    mkdirSync(out);
    const d = await interrupt(['copy', '--progress', 'plain', '--root', root, 'store:big:1', `docker-archive:${out}/big.tar:big:1`]);
    expect(d.status, d.stderr).not.toBe(0);
    expect(d.ms).toBeLessThan(5000);
    expect(walk(out)).toEqual([]);
    expect(walk(spool)).toEqual([]);
    expect(walk(spool)).toEqual([]);
  });

  it('SIGINT during a push leaves no tag in the registry', async () => {
    const r = await interrupt(['copy', '--progress', 'plain', '--root', root, '--dest-tls-verify=false', '--dest-compress-format', 'zstd', 'store:big:1', `docker://${reg.host}/int/big:1`]);
    expect(r.status, r.stderr).not.toBe(0);
    expect(r.ms).toBeLessThan(5000);
    expect(walk(spool)).toEqual([]);
    const tags = ct(['list-tags', '--tls-verify=false', `docker://${reg.host}/int/big`]);
    expect(tags.status === 2 || (JSON.parse(tags.stdout) as { Tags: string[] }).Tags.length === 0, tags.stdout + tags.stderr).toBe(true);
  });
});
