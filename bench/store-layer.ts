// Store and layer micro-benchmark, side by side with the system's tools in the same run:
//  1. blob write + hash: skiff's verified store put vs `sha256sum` + `cp` of the same file;
//  2. layer apply: skiff's confined apply vs `tar -xzf` vs `umoci unpack`, same gzip layer, same filesystem.
// Each contender runs RUNS times, alternating, from the same starting state; min and median are reported.
// Usage: npm run bench [-- --files N --blob-mb M --runs R --dir DIR]   (DIR defaults to /dev/shm)
import { execFileSync, spawnSync } from 'node:child_process';
import { createReadStream, mkdirSync, rmSync, writeFileSync, symlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { openStore } from '../shared/store/store.ts';
import { importTarball } from '../shared/transport/tarball.ts';
import { applyLayer } from '../shared/layer/apply.ts';
import { decompress } from '../shared/layer/compression.ts';
import { stats } from './lib.ts';

const { values } = parseArgs({
  options: {
    files: { type: 'string', default: '20000' },
    'blob-mb': { type: 'string', default: '512' },
    runs: { type: 'string', default: '5' },
    dir: { type: 'string', default: '/dev/shm' },
  },
});
const FILES = Number(values.files);
const BLOB_MB = Number(values['blob-mb']);
const RUNS = Number(values.runs);
const base = join(values.dir!, `skiff-bench-${process.pid}`);
const has = (p: string): boolean => spawnSync('sh', ['-c', `command -v ${p}`]).status === 0;

async function time(fn: () => Promise<void> | void): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}
const fmt = (n: number, d = 2): string => n.toFixed(d);

mkdirSync(base, { recursive: true });
try {
  // ---- 1. blob write + hash ------------------------------------------------------------------------
  const blobFile = join(base, 'blob.bin');
  const chunk = randomBytes(1 << 20);
  writeFileSync(blobFile, Buffer.alloc(0));
  for (let i = 0; i < BLOB_MB; i++) writeFileSync(blobFile, chunk.map((b) => b ^ (i & 0xff)), { flag: 'a' });
  const blobBytes = statSync(blobFile).size;
  const skiffPut: number[] = [];
  const shaCp: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const root = join(base, `store-${r}`);
    skiffPut.push(
      await time(async () => {
        const store = await openStore(root, { create: true });
        await store.putBlob(createReadStream(blobFile, { highWaterMark: 1 << 20 }));
        await store.close();
      }),
    );
    rmSync(root, { recursive: true, force: true });
    const dst = join(base, 'copy.bin');
    shaCp.push(await time(() => void execFileSync('sh', ['-c', `sha256sum "${blobFile}" >/dev/null && cp "${blobFile}" "${dst}" && sync -f "${dst}"`])));
    rmSync(dst, { force: true });
  }
  const mb = blobBytes / 1e6;
  const p = stats(skiffPut);
  const q = stats(shaCp);
  console.log(`blob write+hash, ${fmt(mb, 0)} MB, ${RUNS} runs (${values.dir})`);
  console.log(`  skiff store put (hash while writing, fsync, rename): median ${fmt(p.median)} s = ${fmt(mb / p.median, 0)} MB/s (min ${fmt(p.min)} s)`);
  console.log(`  sha256sum + cp + sync (two passes):                  median ${fmt(q.median)} s = ${fmt(mb / q.median, 0)} MB/s (min ${fmt(q.min)} s)`);
  console.log(`  ratio skiff / (sha256sum+cp): ${fmt(p.median / q.median)}x`);
  rmSync(blobFile, { force: true });

  // ---- 2. layer apply ------------------------------------------------------------------------------
  const tree = join(base, 'tree');
  for (let i = 0; i < FILES; i++) {
    const d = join(tree, `d${i % 200}`, `s${i % 7}`);
    if (i < 1400) mkdirSync(d, { recursive: true });
    writeFileSync(join(d, `f${i}.txt`), `file ${i} `.repeat(1 + (i % 50)));
    if (i % 500 === 0) symlinkSync(`f${i}.txt`, join(d, `l${i}`));
  }
  const tarGz = join(base, 'layer.tar.gz');
  execFileSync('tar', ['--numeric-owner', '-C', tree, '-czf', tarGz, '.']);
  rmSync(tree, { recursive: true, force: true });
  const uncompressed = Number(execFileSync('sh', ['-c', `gzip -dc "${tarGz}" | wc -c`], { encoding: 'utf8' }).trim());
  const storeRoot = join(base, 'umoci-store');
  if (has('umoci')) {
    const store = await openStore(storeRoot, { create: true });
    await importTarball(store, tarGz, { name: 'localhost/bench:latest' });
    await store.close();
  }
  const results: Record<string, number[]> = { skiff: [], 'tar -xzf': [], 'umoci unpack': [] };
  for (let r = 0; r < RUNS; r++) {
    const out = join(base, `apply-${r}`);
    mkdirSync(out, { mode: 0o700 });
    results.skiff!.push(
      await time(async () => {
        const { stream } = await decompress(createReadStream(tarGz, { highWaterMark: 1 << 20 }));
        await applyLayer(out, stream);
      }),
    );
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out);
    results['tar -xzf']!.push(await time(() => void execFileSync('tar', ['-C', out, '-xzf', tarGz])));
    rmSync(out, { recursive: true, force: true });
    if (has('umoci')) {
      results['umoci unpack']!.push(await time(() => void execFileSync('umoci', ['unpack', '--image', `${join(storeRoot, 'images')}:localhost/bench:latest`, out], { stdio: 'ignore' })));
      rmSync(out, { recursive: true, force: true });
    }
  }
  const entries = FILES + Math.ceil(FILES / 500) + 1400;
  console.log(`layer apply, ${FILES} files (~${entries} entries), ${fmt(uncompressed / 1e6, 1)} MB uncompressed, ${RUNS} runs (${values.dir})`);
  const skiffMed = stats(results.skiff!).median;
  for (const [name, xs] of Object.entries(results)) {
    if (xs.length === 0) continue;
    const s = stats(xs);
    console.log(
      `  ${name.padEnd(13)} median ${fmt(s.median)} s = ${fmt(FILES / s.median, 0)} files/s, ${fmt(uncompressed / 1e6 / s.median, 1)} MB/s (min ${fmt(s.min)} s)` +
        (name === 'skiff' ? '' : `  ratio skiff/${name}: ${fmt(skiffMed / s.median)}x`),
    );
  }
} finally {
  rmSync(base, { recursive: true, force: true });
}
