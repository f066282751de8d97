// run-tool vs podman 4.3, side by side in the same run (targets of (a) and (b) as issue 19 states them):
//   (a) `run --rm --network none IMAGE true`, image already stored                      target ≤ 0.6× podman
//   (b) `run -d --network none` + `stop` + `rm` cycle (a container that exits on TERM)   target ≤ 0.8×
//   (c) first run of a 30,000-file image, unpack included: a fresh store each run for both tools (skiff: a
//       fresh --root with the image imported, unpack cache empty; podman: a fresh --root/--runroot and
//       `podman load`). Podman unpacks at load time, so two rows are printed: (c1) the first `run` alone and
//       (c2) `load` + first `run` (both tools load the same docker-archive).                target ≤ 0.7×
//   (d) a pod's life: `pod create --network none` + `run -d --pod` (starts the infra container, then the member,
//       which exits on TERM) + `pod rm -f` (issue 13; the infra images are built untimed first)  target ≤ 0.8×
// Each scenario alternates the tools (podman first on even runs), RUNS times; min and median wall times, the
// median CPU time of the processes each waited for (user + system of the CLI and the children it reaped: runc,
// mount; not conmon or a detached container — podman runs even `run --rm` under conmon, so its runc is not
// counted, while skiff's foreground runc is) and the median ratio skiff/podman are printed. skiff runs as its
// users run it, bin/run-tool.mjs executed as a program, so a hot command starts from its start-up snapshot.
// With --baseline BIN (another checkout's bin/run-tool.mjs, its dist built), that build runs as a third
// contestant in (a), (b) and (d), alternated with the other two, against the same store. Everything lives on tmpfs (--dir, default /dev/shm) for both.
// With --profile, a CPU profile of one skiff `run --rm` is taken (node --cpu-prof) and the top self-time
// entries are printed, next to the fixed costs: node start, bundle load, `runc run` alone.
// Usage: npm run bench:run [-- --runs N] [--files N] [--only a,b,c,d] [--profile] [--dir DIR] [--baseline BIN]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { cleanupMounts, median, min, sh, timed } from './lib.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    files: { type: 'string', default: '30000' },
    only: { type: 'string', default: 'a,b,c,d' },
    profile: { type: 'boolean', default: false },
    dir: { type: 'string', default: '/dev/shm' },
    baseline: { type: 'string' },
  },
});
const RUNS = Math.max(1, Number(values.runs));
const FILES = Number(values.files);
const ONLY = new Set(values.only!.split(','));
const ROOT = resolve(import.meta.dirname, '..');
const NODE = join(ROOT, 'node_modules/.bin/node');
const RUN_TOOL = join(ROOT, 'bin/run-tool.mjs');
const base = mkdtempSync(join(values.dir!, 'skiff-bench-run-'));
const SK_ROOT = join(base, 'skiff');
const POD = ['--root', join(base, 'podman-root'), '--runroot', join(base, 'podman-run'), '--storage-driver', 'overlay'];

const skiff = (root: string, args: string[]) => sh(RUN_TOOL, ['--root', root, ...args]);
const BASELINE = values.baseline === undefined ? undefined : resolve(values.baseline);
const baseline = (root: string, args: string[]) => sh(BASELINE!, ['--root', root, ...args]);
const podman = (args: string[], pod = POD) => sh('podman', [...pod, ...args]);


type Who = 'skiff' | 'podman' | 'baseline';
interface Row {
  name: string;
  target: number;
  wall: Record<Who, number[]>;
  cpu: Record<Who, number[]>;
}
const rows: Row[] = [];

/** CPU time (ms, user + system) of this process's reaped children so far, from /proc/self/stat (10 ms ticks). */
function childrenCpu(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[13]) + Number(f[14])) * 10; // cutime, cstime (fields 16, 17)
}

type Contestant = { prepare?: () => void; run: () => void };

/** Alternates the tools RUNS times (the baseline too when given); `prepare` runs untimed before each measurement. */
function compare(name: string, target: number, s: Contestant, p: Contestant, b?: Contestant): void {
  const row: Row = { name, target, wall: { skiff: [], podman: [], baseline: [] }, cpu: { skiff: [], podman: [], baseline: [] } };
  for (let i = 0; i < RUNS; i++) {
    const two: Who[] = i % 2 === 0 ? ['podman', 'skiff'] : ['skiff', 'podman'];
    const order: Who[] = b ? (i % 2 === 0 ? ['baseline', ...two] : [...two, 'baseline']) : two;
    for (const who of order) {
      const x = who === 'skiff' ? s : who === 'podman' ? p : b!;
      x.prepare?.();
      const c = childrenCpu();
      row.wall[who].push(timed(x.run));
      row.cpu[who].push(childrenCpu() - c);
    }
  }
  rows.push(row);
  const b1 = b ? `, baseline ${median(row.wall.baseline).toFixed(0)} ms` : '';
  process.stderr.write(`${name}: skiff ${median(row.wall.skiff).toFixed(0)} ms, podman ${median(row.wall.podman).toFixed(0)} ms${b1}\n`);
}


function makeRootfs(dir: string, files: number): void {
  sh('bash', [join(ROOT, 'scripts/make-busybox-rootfs.sh'), dir]);
  if (files === 0) return;
  const per = 100;
  for (let d = 0; d * per < files; d++) {
    const sub = join(dir, 'data', `d${d}`);
    mkdirSync(sub, { recursive: true });
    for (let f = 0; f < per && d * per + f < files; f++) writeFileSync(join(sub, `f${f}`), `file ${d}/${f}\n`);
  }
}

// podman 4.3 gives a pod's infra container nofile and nproc limits of 1048576, which a caller whose hard limits
// are lower cannot raise (runc fails "error setting rlimits"): then both tools get the caller's limits from one
// containers.conf (CONTAINERS_CONF replaces the system file for both alike)
function capLimits(): void {
  const hard = (flag: string) => sh('bash', ['-c', `ulimit -H${flag}`]).trim();
  const low = (v: string) => v !== 'unlimited' && Number(v) < 1048576;
  const nofile = hard('n');
  if (!low(nofile) && !low(hard('u'))) return;
  // nproc: a value the runtime can set under conmon on such machines (runc refused 65536 on the project's VM)
  const nproc = String(Math.min(Number(hard('u')) || 32768, 32768));
  const conf = join(base, 'containers.conf');
  writeFileSync(conf, `[containers]\ndefault_ulimits = ["nofile=${nofile}:${nofile}", "nproc=${nproc}:${nproc}"]\n`);
  process.env.CONTAINERS_CONF = conf;
  process.stderr.write(`hard limits nofile ${nofile}, nproc ${nproc}: both tools run with ${conf}\n`);
}

try {
  capLimits();
  if (!existsSync(join(ROOT, 'dist/run-tool.mjs'))) sh(NODE, [join(ROOT, 'scripts/build.mjs')]);
  process.stderr.write(`setting up in ${base}\n`);
  // the images, made offline: busybox, and busybox + FILES small files
  makeRootfs(join(base, 'bb-rootfs'), 0);
  sh('tar', ['--numeric-owner', '-C', join(base, 'bb-rootfs'), '-cf', join(base, 'bb.tar'), '.']);
  skiff(SK_ROOT, ['import', join(base, 'bb.tar'), 'bench-bb']);
  skiff(SK_ROOT, ['save', '-o', join(base, 'bb-archive.tar'), 'localhost/bench-bb']);
  podman(['load', '-i', join(base, 'bb-archive.tar')]);
  const IMG = 'localhost/bench-bb:latest';
  // warm both (skiff: first run unpacks)
  skiff(SK_ROOT, ['run', '--rm', '--network', 'none', IMG, 'true']);
  podman(['run', '--rm', '--network', 'none', IMG, 'true']);

  if (ONLY.has('a')) {
    compare('(a) run --rm --network none IMAGE true', 0.6,
      { run: () => skiff(SK_ROOT, ['run', '--rm', '--network', 'none', IMG, 'true']) },
      { run: () => podman(['run', '--rm', '--network', 'none', IMG, 'true']) },
      BASELINE ? { run: () => baseline(SK_ROOT, ['run', '--rm', '--network', 'none', IMG, 'true']) } : undefined);
  }
  if (ONLY.has('b')) {
    const script = ['sh', '-c', 'trap "exit 0" TERM; while :; do sleep 0.05; done'];
    const cycle = (f: (a: string[]) => string) => () => {
      const id = f(['run', '-d', '--network', 'none', IMG, ...script]).trim().split('\n').pop()!;
      f(['stop', id]);
      f(['rm', id]);
    };
    compare('(b) run -d + stop + rm', 0.8, { run: cycle((a) => skiff(SK_ROOT, a)) }, { run: cycle((a) => podman(a)) }, BASELINE ? { run: cycle((a) => baseline(SK_ROOT, a)) } : undefined);
  }
  if (ONLY.has('d')) {
    const script = ['sh', '-c', 'trap "exit 0" TERM; while :; do sleep 0.05; done'];
    // each tool builds its infra image on its first pod: done untimed here
    skiff(SK_ROOT, ['pod', 'create', '--name', 'bench-warm', '--network', 'none']);
    skiff(SK_ROOT, ['pod', 'rm', 'bench-warm']);
    podman(['pod', 'create', '--name', 'bench-warm', '--network', 'none']);
    podman(['pod', 'rm', 'bench-warm']);
    let n = 0;
    const podLife = (f: (a: string[]) => string) => () => {
      const name = `bench-pod-${n++}`;
      f(['pod', 'create', '--name', name, '--network', 'none']);
      f(['run', '-d', '--pod', name, IMG, ...script]);
      f(['pod', 'rm', '-f', name]);
    };
    compare('(d) pod create + run -d --pod + pod rm -f', 0.8, { run: podLife((a) => skiff(SK_ROOT, a)) }, { run: podLife((a) => podman(a)) }, BASELINE ? { run: podLife((a) => baseline(SK_ROOT, a)) } : undefined);
  }
  if (ONLY.has('c')) {
    makeRootfs(join(base, 'big-rootfs'), FILES);
    sh('tar', ['--numeric-owner', '-C', join(base, 'big-rootfs'), '-cf', join(base, 'big.tar'), '.']);
    rmSync(join(base, 'big-rootfs'), { recursive: true, force: true });
    skiff(SK_ROOT, ['import', join(base, 'big.tar'), 'bench-big']);
    skiff(SK_ROOT, ['save', '-o', join(base, 'big-archive.tar'), 'localhost/bench-big']);
    const BIG = 'localhost/bench-big:latest';
    let n = 0;
    let skRoot = '';
    let pod: string[] = [];
    const freshSkiff = () => {
      if (skRoot) {
        spawnSync(NODE, [RUN_TOOL, '--root', skRoot, 'rm', '-af']);
        cleanupMounts(base);
        rmSync(skRoot, { recursive: true, force: true });
      }
      skRoot = join(base, `sk-fresh-${n++}`);
    };
    const freshPodman = () => {
      if (pod.length) {
        spawnSync('podman', [...pod, 'rm', '-af']);
        spawnSync('podman', [...pod, 'rmi', '-af']);
        cleanupMounts(base);
        rmSync(pod[1]!, { recursive: true, force: true });
        rmSync(pod[3]!, { recursive: true, force: true });
      }
      const d = join(base, `pod-fresh-${n++}`);
      pod = ['--root', join(d, 'root'), '--runroot', join(d, 'run'), '--storage-driver', 'overlay'];
    };
    const runBig = (f: (a: string[]) => string) => () => void f(['run', '--rm', '--network', 'none', BIG, 'true']);
    compare(`(c1) first run of a ${FILES}-file image (run only; podman unpacked at load)`, 0.7,
      { prepare: () => { freshSkiff(); skiff(skRoot, ['load', '-i', join(base, 'big-archive.tar')]); }, run: runBig((a) => skiff(skRoot, a)) },
      { prepare: () => { freshPodman(); podman(['load', '-i', join(base, 'big-archive.tar')], pod); }, run: runBig((a) => podman(a, pod)) });
    compare(`(c2) load + first run of a ${FILES}-file image`, 0.7,
      { prepare: freshSkiff, run: () => { skiff(skRoot, ['load', '-i', join(base, 'big-archive.tar')]); runBig((a) => skiff(skRoot, a))(); } },
      { prepare: freshPodman, run: () => { podman(['load', '-i', join(base, 'big-archive.tar')], pod); runBig((a) => podman(a, pod))(); } });
    freshSkiff();
    freshPodman();
  }

  const out: string[] = [];
  const withBase = BASELINE !== undefined;
  out.push(`| scenario | skiff min / median (ms) | podman min / median (ms) | ratio (median) | target | CPU skiff / podman (ms) |${withBase ? ' baseline median (ms), ratio, CPU |' : ''}`);
  out.push(`|---|---|---|---|---|---|${withBase ? '---|' : ''}`);
  for (const r of rows) {
    const ratio = median(r.wall.skiff) / median(r.wall.podman);
    const base = withBase && r.wall.baseline.length > 0
      ? ` ${median(r.wall.baseline).toFixed(0)}, ${(median(r.wall.baseline) / median(r.wall.podman)).toFixed(2)}×, ${median(r.cpu.baseline).toFixed(0)} |`
      : withBase ? ' |' : '';
    out.push(`| ${r.name} | ${min(r.wall.skiff).toFixed(0)} / ${median(r.wall.skiff).toFixed(0)} | ${min(r.wall.podman).toFixed(0)} / ${median(r.wall.podman).toFixed(0)} | ${ratio.toFixed(2)}× ${ratio <= r.target ? 'ok' : 'MISSED'} | ≤ ${r.target}× | ${median(r.cpu.skiff).toFixed(0)} / ${median(r.cpu.podman).toFixed(0)} |${base}`);
  }
  process.stdout.write(`\nrun-tool vs podman, ${RUNS} runs each, alternating\n${out.join('\n')}\n`);

  if (values.profile) {
    // fixed costs: node start, bundle parse+init, runc alone (a bundle prepared by `create`)
    const nodeStart = median(Array.from({ length: 5 }, () => timed(() => sh(NODE, ['-e', '0']))));
    const bundleLoad = median(Array.from({ length: 5 }, () => timed(() => sh(RUN_TOOL, ['--version']))));
    // runc alone: a `runc spec` bundle over the plain busybox rootfs, process `true`, no terminal
    const rb = join(base, 'runc-bundle');
    mkdirSync(rb, { recursive: true });
    sh('runc', ['spec', '--bundle', rb]);
    const spec = JSON.parse(readFileSync(join(rb, 'config.json'), 'utf8')) as { root: { path: string; readonly: boolean }; process: { args: string[]; terminal: boolean } };
    spec.root = { path: join(base, 'bb-rootfs'), readonly: true };
    spec.process.args = ['true'];
    spec.process.terminal = false;
    writeFileSync(join(rb, 'config.json'), JSON.stringify(spec));
    const runcAlone = median(Array.from({ length: 5 }, (_, i) => timed(() => sh('runc', ['--root', join(base, 'runc-state'), 'run', '--bundle', rb, `bench-${process.pid}-${i}`]))));
    const profDir = join(base, 'prof');
    spawnSync(NODE, ['--cpu-prof', '--cpu-prof-dir', profDir, RUN_TOOL, '--root', SK_ROOT, 'run', '--rm', '--network', 'none', IMG, 'true'], { stdio: 'ignore' });
    const prof = JSON.parse(readFileSync(join(profDir, readdirSync(profDir)[0]!), 'utf8')) as {
      nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
      samples: number[];
      timeDeltas: number[];
      startTime: number;
      endTime: number;
    };
    const self = new Map<number, number>();
    prof.samples.forEach((s, i) => self.set(s, (self.get(s) ?? 0) + (prof.timeDeltas[i] ?? 0)));
    const byFrame = new Map<string, number>();
    for (const n of prof.nodes) {
      const us = self.get(n.id) ?? 0;
      if (!us) continue;
      const key = `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*\//, '')}:${n.callFrame.lineNumber + 1}`;
      byFrame.set(key, (byFrame.get(key) ?? 0) + us);
    }
    const top = [...byFrame].sort((a, b) => b[1] - a[1]).slice(0, 15);
    process.stdout.write(`\nfixed costs (median of 5): node -e 0 ${nodeStart.toFixed(0)} ms; run-tool --version ${bundleLoad.toFixed(0)} ms; runc run alone ${runcAlone.toFixed(0)} ms\n`);
    process.stdout.write(`skiff run --rm profile: ${((prof.endTime - prof.startTime) / 1000).toFixed(0)} ms on the main thread (wall in child processes not included); top self time:\n`);
    for (const [k, us] of top) process.stdout.write(`  ${(us / 1000).toFixed(1).padStart(7)} ms  ${k}\n`);
  }
} finally {
  spawnSync(NODE, [RUN_TOOL, '--root', SK_ROOT, 'pod', 'rm', '-af', '-t', '0']);
  spawnSync('podman', [...POD, 'pod', 'rm', '-af', '-t', '0']);
  spawnSync(NODE, [RUN_TOOL, '--root', SK_ROOT, 'rm', '-af']);
  spawnSync('podman', [...POD, 'rm', '-af', '-t', '0']);
  spawnSync('podman', [...POD, 'rmi', '-af']);
  cleanupMounts(base);
  rmSync(base, { recursive: true, force: true });
}
