// Start-up of the three tools and the no-op copy, side by side with their floor and peer in one run (issue 19):
//   `node -e 0` (the floor: Node's own start) and an empty V8 start-up snapshot vs `<tool> --version`;
//   the no-op copy (registry → oci: when the layout has every blob) vs skopeo's;
//   `run-tool ps` on an empty store and `run-tool run --rm` (as root: busybox, --network none, `true`);
// each hot command executed directly (bin/<tool>.mjs as a program: its V8 start-up snapshot, dist/snapshot) and
// through `node bin/<tool>.mjs` (the ES-module bundles: no snapshot), with Node's module compile cache (the
// default) and without it (SKIFF_NO_COMPILE_CACHE=1), from the hot command's own bundle or the all-commands one
// (SKIFF_ALL_COMMANDS_BUNDLE=1); for `ps` also a snapshot holding only the start-up modules (lazy imports left
// out: an upper bound, not shippable). Commands run RUNS times, alternating; medians and minimums of wall time
// and the median CPU time (user + sys) are printed, with the ratio of medians to the row's reference.
// Usage: npm run bench:start [-- --runs N]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { makeBigLayout } from './make-image.ts';
import { startRegistry } from '../test/helpers/registry.ts';
import { cleanupMounts, stats } from './lib.ts';
// @ts-expect-error: a build script in plain JavaScript, no declarations
import { buildStartupSnapshot } from '../scripts/startup-snapshot.mjs';

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

// Wall and CPU time of one child, measured by a wrapper around fork/exec/wait4 (microseconds, where /usr/bin/time
// rounds CPU time to 10 ms — as large as the differences measured here); the wrapper's own start is not counted.
const TIMER = `import os, sys, time
t = time.monotonic(); pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, ru = os.wait4(pid, 0)
wall = (time.monotonic() - t) * 1000
open(sys.argv[1], "w").write(f"{wall:.3f} {ru.ru_utime * 1000:.3f} {ru.ru_stime * 1000:.3f}")
sys.exit(os.waitstatus_to_exitcode(status))
`;

/** Runs every command RUNS times, alternating the order each round; records wall and CPU time. */
function measure(cmds: Cmd[]): void {
  const timeFile = join(base, 'time.out');
  for (let i = 0; i < RUNS; i++) {
    for (const c of i % 2 === 0 ? cmds : [...cmds].reverse()) {
      const r = spawnSync('python3', ['-c', TIMER, timeFile, ...c.argv], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...c.env } });
      if (r.status !== 0) throw new Error(`${c.label} failed (exit ${r.status}): ${r.stderr.toString().slice(-2000)}`);
      const [wall, u, s] = readFileSync(timeFile, 'utf8').trim().split(' ').map(Number);
      c.wall.push(wall!);
      c.cpu.push(u! + s!);
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

/** An empty start-up snapshot: Node's own start from a user blob rather than its built-in one. */
function emptySnapshot(): string {
  const script = join(base, 'empty-snapshot.cjs');
  const blob = join(base, 'empty.blob');
  writeFileSync(script, "require('node:v8').startupSnapshot.setDeserializeMainFunction(() => {});\n");
  const r = spawnSync(NODE, ['--snapshot-blob', blob, '--build-snapshot', script], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`empty snapshot: ${r.stderr}`);
  return blob;
}

const NO_CACHE = { SKIFF_NO_COMPILE_CACHE: '1' };
const ALL = { SKIFF_ALL_COMMANDS_BUNDLE: '1' };
const reg = await startRegistry();
try {
  spawnSync(NODE, [join(ROOT, 'scripts/build.mjs')], { cwd: ROOT, stdio: 'inherit' });
  if (!existsSync(join(ROOT, 'dist/snapshot/node'))) throw new Error('the build made no start-up snapshots (dist/snapshot): see its warnings');
  const tool = (t: string) => [NODE, join(ROOT, 'bin', `${t}.mjs`)];
  /** The bin executed as a program: a hot command starts from its snapshot. */
  const direct = (t: string) => [join(ROOT, 'bin', `${t}.mjs`)];
  const version: Cmd[] = [cmd('`node -e 0`', [NODE, '-e', '0']), cmd('`node --snapshot-blob EMPTY`', [NODE, '--snapshot-blob', emptySnapshot()])];
  for (const t of ['copy-tool', 'run-tool', 'build-tool']) version.push(cmd(`\`${t} --version\``, [...tool(t), '--version']));
  version.push(cmd('`run-tool --version`, bin executed directly', [...direct('run-tool'), '--version']));
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
    cmd('copy-tool copy (no-op), start-up snapshot', [...direct('copy-tool'), ...flags, ref, dst]),
    cmd('copy-tool copy (no-op)', [...tool('copy-tool'), ...flags, ref, dst]),
    cmd('copy-tool copy (no-op), no compile cache', [...tool('copy-tool'), ...flags, ref, dst], NO_CACHE),
    cmd('copy-tool copy (no-op), all-commands bundle', [...tool('copy-tool'), ...flags, ref, dst], ALL),
    cmd('`node -e 0`', [NODE, '-e', '0']),
  ];
  measure(noop);
  table(`registry → oci: when the layout has every blob (${RUNS} runs, alternating; loopback docker-registry, ${values.dir})`, noop);
  const nc: Cmd[] = [cmd('`copy-tool inspect --help`', [...tool('copy-tool'), 'inspect', '--help']), cmd('`copy-tool inspect --help`, no compile cache', [...tool('copy-tool'), 'inspect', '--help'], NO_CACHE)];
  measure(nc);
  table('the compile cache on a command that loads commander and one command module', nc);
  // a hot command from its snapshot, its own bundle (dist/hot/…) or the all-commands bundle with its shared chunks
  const root = join(base, 'root');
  const startupOnly = (await buildStartupSnapshot({ node: NODE, tool: 'run-tool', command: 'ps', dir: join(base, 'snapshot'), version: 'bench', lazyImports: 'left out' })) as { blob: string };
  const ps: Cmd[] = [
    cmd('`run-tool ps`', [...tool('run-tool'), '--root', root, 'ps']),
    cmd('`run-tool ps`, start-up snapshot', [...direct('run-tool'), '--root', root, 'ps']),
    cmd('`run-tool ps`, snapshot of the start-up modules only', [NODE, '--snapshot-blob', startupOnly.blob, '--', '--root', root, 'ps']),
  ];
  for (const [what, env] of [[', no compile cache', NO_CACHE], [', all-commands bundle', ALL], [', all-commands bundle, no compile cache', { ...ALL, ...NO_CACHE }]] as const) {
    ps.push(cmd(`\`run-tool ps\`${what}`, [...tool('run-tool'), '--root', root, 'ps'], env));
  }
  for (const [what, env] of [['', {}], [', all-commands bundle', ALL]] as const) ps.push(cmd(`\`run-tool run --help\`${what}`, [...tool('run-tool'), 'run', '--help'], env));
  ps.push(cmd('`run-tool run --help`, start-up snapshot', [...direct('run-tool'), 'run', '--help']));
  measure(ps);
  table('per-command bundles and snapshots: a command from its snapshot, its own bundle or the all-commands bundle', ps);

  if (process.getuid?.() === 0) {
    const rootfs = join(base, 'bb-rootfs');
    if (spawnSync('bash', [join(ROOT, 'scripts/make-busybox-rootfs.sh'), rootfs]).status !== 0) throw new Error('make-busybox-rootfs.sh failed');
    if (spawnSync('tar', ['--numeric-owner', '-C', rootfs, '-cf', `${rootfs}.tar`, '.']).status !== 0) throw new Error('tar failed');
    const img = spawnSync(NODE, [join(ROOT, 'bin/run-tool.mjs'), '--root', root, 'import', '-q', `${rootfs}.tar`, 'bench-start-bb'], { encoding: 'utf8' });
    if (img.status !== 0) throw new Error(`import: ${img.stderr}`);
    const args = ['--root', root, 'run', '--rm', '--network', 'none', 'localhost/bench-start-bb', 'true'];
    const warm = spawnSync(NODE, [join(ROOT, 'bin/run-tool.mjs'), ...args], { encoding: 'utf8' });
    if (warm.status !== 0) throw new Error(`run: ${warm.stderr}`);
    const run: Cmd[] = [cmd('`run-tool run --rm`', [...tool('run-tool'), ...args]), cmd('`run-tool run --rm`, start-up snapshot', [...direct('run-tool'), ...args])];
    measure(run);
    table('`run --rm --network none busybox true` (root; the first run unpacked the image untimed)', run);
  }
} finally {
  await reg.stop();
  cleanupMounts(base);
  rmSync(base, { recursive: true, force: true });
}
