// copy-tool vs skopeo, side by side in the same run (issue 3, "Benchmark"). On loopback with Debian's
// docker-registry (plain http, storage on /dev/shm):
//   (a) a 1 GiB 4-layer image, registry → OCI layout (fresh layout each run)
//   (b) the same image registry → registry (a second registry instance, fresh storage each run, so bytes move)
//   (c) the same copies again when the destination already has every blob and the manifest:
//       (c1) registry → registry, (c2) registry → OCI layout
//   (d) sync of 20 tags of small/medium images registry → registry: (d1) into an empty registry,
//       (d2) again when every image already exists
// Each tool runs RUNS times, alternating (skopeo first on even runs, copy-tool first on odd ones), from the
// same starting state; min and median wall times, the ratio copy-tool/skopeo and peak RSS (GNU time %M) are
// printed. The image is generated offline from pseudo-random (incompressible) bytes, gzip level 1.
// Usage: npm run bench:copy [-- --quick] [--runs N] [--layer-mib M] [--only a,b,c,d] [--dir DIR]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { makeBigLayout, makeSmallLayout } from './make-image.ts';
import { startRegistry, type TestRegistry } from '../test/helpers/registry.ts';
import { stats } from './lib.ts';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    'layer-mib': { type: 'string' },
    only: { type: 'string', default: 'a,b,c,d' },
    dir: { type: 'string', default: '/dev/shm' },
    'keep-going': { type: 'boolean', default: false },
  },
});
const QUICK = values.quick === true;
const RUNS = Number(values.runs ?? (QUICK ? 3 : 5));
const LAYER_MIB = Number(values['layer-mib'] ?? (QUICK ? 32 : 256));
const ONLY = new Set(values.only!.split(','));
const ROOT = resolve(import.meta.dirname, '..');
const NODE = join(ROOT, 'node_modules/.bin/node');
// bin/copy-tool.mjs executed as a program, as users run it: the launcher starts a hot command from its start-up
// snapshot and gives copy/sync their allocator setting (MALLOC_ARENA_MAX), which `node bin/…` would skip.
const COPY_TOOL = [join(ROOT, 'bin/copy-tool.mjs')];
const SKOPEO = ['skopeo'];
const base = mkdtempSync(join(values.dir!, 'skiff-bench-copy-'));

// ---------------------------------------------------------------------------------------------------
// Running and timing.

interface Sample {
  wall: number;
  rssKiB: number;
  /** user + system CPU seconds */
  cpu: number;
}

/**
 * Runs one command to completion (asynchronously: the registries' stderr pipes are drained by this process's
 * event loop, so a blocking spawnSync would stall them once their log pipe fills).
 */
async function run(argv: string[], what: string): Promise<Sample> {
  const timeFile = join(base, 'time.out');
  const t0 = performance.now();
  const child = spawn('/usr/bin/time', ['-f', '%M %U %S', '-o', timeFile, ...argv], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr = (stderr + d).slice(-4000);
  });
  const status = await new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  const wall = (performance.now() - t0) / 1000;
  if (status !== 0) {
    const msg = `${what} failed (exit ${status}): ${argv.join(' ')}\n${stderr.slice(-3000)}`;
    if (!values['keep-going']) throw new Error(msg);
    process.stderr.write(msg + '\n');
  }
  const [rssKiB, user, sys] = readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
  return { wall, rssKiB: rssKiB!, cpu: user! + sys! };
}


interface Row {
  scenario: string;
  ct: Sample[];
  sk: Sample[];
  target: number;
}
const rows: Row[] = [];

/**
 * Runs both tools RUNS times, alternating; `prepare(tool, i)` resets the starting state (untimed) and
 * returns the argv suffix (after the tool) to run.
 */
async function scenario(name: string, target: number, prepare: (tool: 'ct' | 'sk', i: number) => Promise<{ ct: string[]; sk: string[] }>): Promise<void> {
  const row: Row = { scenario: name, ct: [], sk: [], target };
  process.stderr.write(`${name}: `);
  for (let i = 0; i < RUNS; i++) {
    const order: ('ct' | 'sk')[] = i % 2 === 0 ? ['sk', 'ct'] : ['ct', 'sk'];
    for (const tool of order) {
      const args = await prepare(tool, i);
      const s = await run([...(tool === 'ct' ? COPY_TOOL : SKOPEO), ...args[tool]], `${tool === 'ct' ? 'copy-tool' : 'skopeo'} (${name})`);
      row[tool].push(s);
      process.stderr.write(`${tool === 'ct' ? 'c' : 's'}${s.wall.toFixed(2)} `);
    }
  }
  process.stderr.write('\n');
  rows.push(row);
}

function printTable(): void {
  const head = ['scenario', 'copy-tool min', 'median', 'skopeo min', 'median', 'ratio min', 'ratio med', 'target', 'ct CPU', 'sk CPU', 'ct RSS MB', 'sk RSS MB', 'ok'];
  const lines = rows.map((r) => {
    const c = stats(r.ct.map((s) => s.wall));
    const k = stats(r.sk.map((s) => s.wall));
    const rss = Math.max(...r.ct.map((s) => s.rssKiB)) / 1024;
    const srss = Math.max(...r.sk.map((s) => s.rssKiB)) / 1024;
    const ratio = c.median / k.median;
    return [
      r.scenario,
      `${c.min.toFixed(2)} s`,
      `${c.median.toFixed(2)} s`,
      `${k.min.toFixed(2)} s`,
      `${k.median.toFixed(2)} s`,
      (c.min / k.min).toFixed(2),
      ratio.toFixed(2),
      `≤ ${r.target}`,
      `${stats(r.ct.map((s) => s.cpu)).median.toFixed(2)} s`,
      `${stats(r.sk.map((s) => s.cpu)).median.toFixed(2)} s`,
      rss.toFixed(0),
      srss.toFixed(0),
      ratio <= r.target && rss < 150 ? 'yes' : 'NO',
    ];
  });
  const w = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (l: string[]) => '| ' + l.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join(' | ') + ' |';
  console.log(fmt(head));
  console.log('|' + w.map((n, i) => (i === 0 ? '-'.repeat(n + 2) : '-'.repeat(n + 1) + ':')).join('|') + '|');
  for (const l of lines) console.log(fmt(l));
}

// ---------------------------------------------------------------------------------------------------

const registries: TestRegistry[] = [];
async function registry(): Promise<TestRegistry> {
  const r = await startRegistry();
  registries.push(r);
  return r;
}
async function stopRegistry(r: TestRegistry): Promise<void> {
  registries.splice(registries.indexOf(r), 1);
  await r.stop();
}

const CT_TLS = ['--src-tls-verify=false', '--dest-tls-verify=false'];
const SK_TLS = ['--src-tls-verify=false', '--dest-tls-verify=false'];
const QUIET = ['-q'];

try {
  const build = spawnSync(NODE, [join(ROOT, 'scripts/build.mjs')], { cwd: ROOT, stdio: 'inherit' });
  if (build.status !== 0) throw new Error('build failed');
  const skv = spawnSync('skopeo', ['--version']).stdout?.toString().trim();
  const t0 = performance.now();

  // ---- images ----
  const src = await registry();
  const bigLayout = join(base, 'big-layout');
  const bigBytes = await makeBigLayout(bigLayout, LAYER_MIB);
  await run([...COPY_TOOL, 'copy', ...QUIET, ...CT_TLS, `oci:${bigLayout}:big`, `docker://${src.host}/bench/big:latest`], 'push big');
  rmSync(bigLayout, { recursive: true, force: true });
  const smallLayout = join(base, 'small-layout');
  const { refs, bytes: smallBytes } = await makeSmallLayout(smallLayout, QUICK);
  for (const ref of refs) await run([...COPY_TOOL, 'copy', ...QUIET, ...CT_TLS, `oci:${smallLayout}:${ref}`, `docker://${src.host}/bench/small:${ref}`], 'push small');
  rmSync(smallLayout, { recursive: true, force: true });
  process.stderr.write(`images ready in ${((performance.now() - t0) / 1000).toFixed(1)} s: big ${(bigBytes / 2 ** 20).toFixed(0)} MiB in 4 layers; 20 small tags, ${(smallBytes / 2 ** 20).toFixed(0)} MiB\n`);
  const bigRef = `docker://${src.host}/bench/big:latest`;

  // ---- (a) registry → OCI layout ----
  const ociDst = join(base, 'oci-out');
  if (ONLY.has('a')) {
    await scenario('(a) registry → oci:', 0.6, async () => {
      rmSync(ociDst, { recursive: true, force: true });
      return { ct: ['copy', ...QUIET, ...CT_TLS, bigRef, `oci:${ociDst}:big`], sk: ['copy', ...QUIET, ...SK_TLS, bigRef, `oci:${ociDst}:big`] };
    });
  }

  // ---- (b) registry → registry (second instance, fresh each run) ----
  let dst: TestRegistry | undefined;
  if (ONLY.has('b')) {
    await scenario('(b) registry → registry', 0.6, async () => {
      if (dst) await stopRegistry(dst);
      dst = await registry();
      const to = `docker://${dst.host}/mirror/big:latest`;
      return { ct: ['copy', ...QUIET, ...CT_TLS, bigRef, to], sk: ['copy', ...QUIET, ...SK_TLS, bigRef, to] };
    });
  }

  // ---- (c) destination already has everything ----
  if (ONLY.has('c')) {
    dst ??= await registry();
    const to = `docker://${dst.host}/mirror/big:latest`;
    await run([...COPY_TOOL, 'copy', ...QUIET, ...CT_TLS, bigRef, to], 'populate (c1)');
    await scenario('(c1) registry → registry, present', 1.0, async () => ({ ct: ['copy', ...QUIET, ...CT_TLS, bigRef, to], sk: ['copy', ...QUIET, ...SK_TLS, bigRef, to] }));
    rmSync(ociDst, { recursive: true, force: true });
    await run([...COPY_TOOL, 'copy', ...QUIET, ...CT_TLS, bigRef, `oci:${ociDst}:big`], 'populate (c2)');
    await scenario('(c2) registry → oci:, present', 1.0, async () => ({
      ct: ['copy', ...QUIET, ...CT_TLS, bigRef, `oci:${ociDst}:big`],
      sk: ['copy', ...QUIET, ...SK_TLS, bigRef, `oci:${ociDst}:big`],
    }));
    rmSync(ociDst, { recursive: true, force: true });
  }

  // ---- (d) sync of 20 tags ----
  if (ONLY.has('d')) {
    const syncArgs = (host: string) => ['sync', '--src', 'docker', '--dest', 'docker', ...CT_TLS, `${src.host}/bench/small`, `${host}/mirror`];
    let sdst: TestRegistry | undefined;
    await scenario('(d1) sync 20 tags', 0.5, async () => {
      if (sdst) await stopRegistry(sdst);
      sdst = await registry();
      return { ct: syncArgs(sdst.host), sk: syncArgs(sdst.host) };
    });
    await scenario('(d2) sync 20 tags, present', 0.5, async () => ({ ct: syncArgs(sdst!.host), sk: syncArgs(sdst!.host) }));
  }

  console.log(
    `\ncopy-tool vs ${skv} — ${RUNS} runs each, alternating; big image ${(bigBytes / 2 ** 20).toFixed(0)} MiB (4 gzip layers), sync 20 tags ${(smallBytes / 2 ** 20).toFixed(0)} MiB; loopback docker-registry on ${values.dir}; ratio = copy-tool / skopeo; CPU = median user+sys; RSS = peak of any run (MB)\n`,
  );
  printTable();
  console.log(`\ntotal ${((performance.now() - t0) / 1000).toFixed(0)} s`);
} finally {
  for (const r of [...registries]) await r.stop().catch(() => {});
  rmSync(base, { recursive: true, force: true });
}
