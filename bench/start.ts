// Start-up of the three tools and the no-op copy, side by side with their floor and peer in one run (issue 19):
//   `node -e 0` (the floor: Node's own start) vs `<tool> --version`;
//   the no-op copy (registry → oci: when the layout has every blob) vs skopeo's;
// each skiff row with Node's module compile cache (the default, a private per-user dir) and without it
// (SKIFF_NO_COMPILE_CACHE=1), and with the hot command's own bundle or the all-commands one (SKIFF_ALL_COMMANDS_BUNDLE=1). Commands run RUNS times, alternating; medians and minimums of wall time and the
// median CPU time (user + sys) are printed, with the ratio of medians to the row's reference.
// Usage: npm run bench:start [-- --runs N]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { makeBigLayout } from './make-image.ts';
import { startRegistry } from '../test/helpers/registry.ts';
import { stats } from './lib.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '21' }, dir: { type: 'string', default: '/dev/shm' } } });
const RUNS = Number(values.runs);
const ROOT = resolve(import.meta.dirname, '..');
const NODE = join(ROOT, 'node_modules/.bin/node');
const base = mkdtempSync(join(values.dir!, 'skiff-bench-start-'));

interface Cmd {
  label: string;
  argv: string[];
  env?: Record<string, string>;
  wall: number[];
  cpu: number[];
}
const cmd = (label: string, argv: string[], env?: Record<string, string>): Cmd => ({ label, argv, ...(env ? { env } : {}), wall: [], cpu: [] });

/** Runs every command RUNS times, alternating the order each round; records wall and CPU time. */
function measure(cmds: Cmd[]): void {
  const timeFile = join(base, 'time.out');
  for (let i = 0; i < RUNS; i++) {
    for (const c of i % 2 === 0 ? cmds : [...cmds].reverse()) {
      const t0 = performance.now();
      const r = spawnSync('/usr/bin/time', ['-f', '%U %S', '-o', timeFile, ...c.argv], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...c.env } });
      const wall = performance.now() - t0;
      if (r.status !== 0) throw new Error(`${c.label} failed (exit ${r.status}): ${r.stderr.toString().slice(-2000)}`);
      const [u, s] = readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
      c.wall.push(wall);
      c.cpu.push((u! + s!) * 1000);
    }
  }
}

function table(title: string, cmds: Cmd[]): void {
  const ref = stats(cmds[0]!.wall).median;
  console.log(`\n${title}\n`);
  console.log('| command | median | min | CPU (median) | ratio to first row |');
  console.log('|---|---:|---:|---:|---:|');
  for (const c of cmds) {
    const w = stats(c.wall);
    console.log(`| ${c.label} | ${w.median.toFixed(0)} ms | ${w.min.toFixed(0)} ms | ${stats(c.cpu).median.toFixed(0)} ms | ${(w.median / ref).toFixed(2)}× |`);
  }
}

const NO_CACHE = { SKIFF_NO_COMPILE_CACHE: '1' };
const ALL = { SKIFF_ALL_COMMANDS_BUNDLE: '1' };
const reg = await startRegistry();
try {
  spawnSync(NODE, [join(ROOT, 'scripts/build.mjs')], { cwd: ROOT, stdio: 'inherit' });
  const tool = (t: string) => [NODE, join(ROOT, 'bin', `${t}.mjs`)];
  const version: Cmd[] = [cmd('`node -e 0`', [NODE, '-e', '0'])];
  for (const t of ['copy-tool', 'run-tool', 'build-tool']) version.push(cmd(`\`${t} --version\``, [...tool(t), '--version']));
  measure(version);
  table(`--version against Node's own start (${RUNS} runs, alternating)`, version);

  // a 4-layer image of 4 MiB layers: the no-op copy's cost does not depend on the layer size
  const layout = join(base, 'layout');
  await makeBigLayout(layout, 4);
  const ref = `docker://${reg.host}/bench/start:1`;
  const flags = ['copy', '-q', '--src-tls-verify=false', '--dest-tls-verify=false'];
  const push = spawnSync(tool('copy-tool')[0]!, [...tool('copy-tool').slice(1), ...flags, `oci:${layout}:big`, ref], { stdio: 'inherit' });
  if (push.status !== 0) throw new Error('push failed');
  const dst = `oci:${join(base, 'dst')}:big`;
  const fill = spawnSync('skopeo', [...flags, ref, dst], { stdio: 'inherit' });
  if (fill.status !== 0) throw new Error('skopeo copy failed');
  const noop: Cmd[] = [
    cmd('skopeo copy (no-op)', ['skopeo', ...flags, ref, dst]),
    cmd('copy-tool copy (no-op)', [...tool('copy-tool'), ...flags, ref, dst]),
    cmd('copy-tool copy (no-op), no compile cache', [...tool('copy-tool'), ...flags, ref, dst], NO_CACHE),
    cmd('copy-tool copy (no-op), all-commands bundle', [...tool('copy-tool'), ...flags, ref, dst], ALL),
    cmd('copy-tool copy (no-op), all-commands bundle, no compile cache', [...tool('copy-tool'), ...flags, ref, dst], { ...ALL, ...NO_CACHE }),
    cmd('`node -e 0`', [NODE, '-e', '0']),
  ];
  measure(noop);
  table(`registry → oci: when the layout has every blob (${RUNS} runs, alternating; loopback docker-registry, ${values.dir})`, noop);
  const nc: Cmd[] = [cmd('`copy-tool inspect --help`', [...tool('copy-tool'), 'inspect', '--help']), cmd('`copy-tool inspect --help`, no compile cache', [...tool('copy-tool'), 'inspect', '--help'], NO_CACHE)];
  measure(nc);
  table('the compile cache on a command that loads commander and one command module', nc);
  // a hot command's own bundle (dist/hot/…) against the all-commands bundle with its shared chunks
  const root = join(base, 'root');
  const ps: Cmd[] = [];
  for (const [what, env] of [['', {}], [', no compile cache', NO_CACHE], [', all-commands bundle', ALL], [', all-commands bundle, no compile cache', { ...ALL, ...NO_CACHE }]] as const) {
    ps.push(cmd(`\`run-tool ps\`${what}`, [...tool('run-tool'), '--root', root, 'ps'], env));
  }
  for (const [what, env] of [['', {}], [', all-commands bundle', ALL]] as const) ps.push(cmd(`\`run-tool run --help\`${what}`, [...tool('run-tool'), 'run', '--help'], env));
  measure(ps);
  table('per-command bundles: a command loaded from its own bundle or from the all-commands bundle', ps);
} finally {
  await reg.stop();
  rmSync(base, { recursive: true, force: true });
}
