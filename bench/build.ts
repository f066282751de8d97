// build-tool vs `buildah build --layers` (Debian's 1.28), side by side in the same run (issue 5, "Benchmark"; the
// targets of (a) and (b) as issue 19 states them).
// The same Dockerfile, the same context, the same busybox base image (made offline, imported into skiff's store
// with `run-tool import` and copied from it into buildah's storage with skopeo): a two-stage build with a
// 2,000-file COPY, RUN steps in both stages and a COPY --from into the second stage.
//   (a) cold build: fresh caches for both (a fresh skiff --root, a fresh buildah --root/--runroot, base image in)
//                                                                                  target ≤ 0.6× buildah
//   (b) fully cached rebuild, nothing changed                                       target ≤ 0.08×
//   (c) rebuild after changing one source file (its content: the COPY and every later step rebuild)
//                                                                                  target ≤ 0.5×
//   (d) a fresh CI runner with the cache of another: each tool built the context once with --cache-to a
//       docker-registry on 127.0.0.1 (untimed); then, timed, from a fresh store (base image in) with --cache-from
//       that repository — build-tool's `--cache-to/--cache-from REPO`, buildah's same flags     target ≤ 0.5×
// Each scenario alternates the tools (buildah first on even runs), RUNS times; min and median wall times and the
// median ratio skiff/buildah are printed as a table, with the median CPU time (user + system of the tool and the
// children it reaped) of each — the steadier column on a loaded machine. Everything lives on tmpfs (--dir, default /dev/shm).
// buildah uses its default overlay storage driver; both run RUN steps in the host network (`--network host`: each
// tool's default is a private namespace per RUN, whose set-up differs — netavark for both, but buildah's through its
// own library), so the comparison is of the build itself; `--isolation oci` (runc) for both.
// With --steps, one more build of each kind prints build-tool's per-step times (where the time goes).
// Usage: npm run bench:build [-- --runs N] [--files N] [--only a,b,c,d] [--steps] [--dir DIR]
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { cleanupMounts, median, min, sh as run, timed } from './lib.ts';
import { startRegistry, type TestRegistry } from '../test/helpers/registry.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    files: { type: 'string', default: '2000' },
    only: { type: 'string', default: 'a,b,c,d' },
    steps: { type: 'boolean', default: false },
    dir: { type: 'string', default: '/dev/shm' },
  },
});
const RUNS = Math.max(1, Number(values.runs));
const FILES = Number(values.files);
const ONLY = new Set(values.only!.split(','));
const ROOT = resolve(import.meta.dirname, '..');
const NODE = join(ROOT, 'node_modules/.bin/node');
const BUILD_TOOL = join(ROOT, 'bin/build-tool.mjs');
const RUN_TOOL = join(ROOT, 'bin/run-tool.mjs');
const COPY_TOOL = join(ROOT, 'bin/copy-tool.mjs');
const base = mkdtempSync(join(values.dir!, 'skiff-bench-build-'));
const CTX = join(base, 'ctx');
const DOCKERFILE = join(base, 'Dockerfile');
const BASE_IMAGE = 'localhost/bench-bb:latest';

const DF = `FROM ${BASE_IMAGE} AS build
WORKDIR /src
COPY src/ /src/
RUN find /src -type f | wc -l > /count && cat /src/d0/f0 > /first
RUN mkdir -p /out && tar -cf /out/src.tar -C /src . && md5sum /out/src.tar > /out/sum

FROM ${BASE_IMAGE}
ENV APP=/app
COPY --from=build /out/ /app/
COPY --from=build /count /app/count
RUN ls -l /app > /app/listing && cat /app/sum
CMD ["cat", "/app/count"]
`;

const sh = (cmd: string, args: string[]): string => run(cmd, args, { both: true });

// ---------------------------------------------------------------------------------------------------
// The two tools, each over a store that can be replaced by a fresh one.

interface Tool {
  name: 'skiff' | 'buildah';
  /** a fresh, empty store with the base image in it (untimed) */
  fresh(): void;
  /** one build; `extra` flags go before the context */
  build(extra?: string[]): string;
}

let n = 0;
const bbTar = join(base, 'bb.tar');
const seedStore = join(base, 'seed-skiff');

const skiff: Tool & { root: string } = {
  name: 'skiff',
  root: '',
  fresh() {
    if (this.root) {
      cleanupMounts(this.root);
      rmSync(this.root, { recursive: true, force: true });
    }
    this.root = join(base, `skiff-${n++}`);
    // the seed's image, as buildah gets it: one base image (an import per store would stamp a new created time,
    // a new manifest, and so new cache keys — as no registry-pulled base does)
    sh(NODE, [COPY_TOOL, '--root', this.root, 'copy', `oci:${join(seedStore, 'images')}:${BASE_IMAGE}`, `store:${BASE_IMAGE}`]);
  },
  build(extra = []) {
    // the bin executed directly, as a user runs it: a current start-up snapshot is used (bin/snapshot-start.sh)
    return sh(BUILD_TOOL, ['--root', this.root, 'build', '--progress', 'plain', '--network', 'host', '-t', 'bench', '-f', DOCKERFILE, ...extra, CTX]);
  },
};

const buildah: Tool & { args: string[] } = {
  name: 'buildah',
  args: [],
  fresh() {
    if (this.args.length) {
      spawnSync('buildah', [...this.args, 'rm', '--all'], { stdio: 'ignore' });
      spawnSync('buildah', [...this.args, 'rmi', '--all', '--force'], { stdio: 'ignore' });
      cleanupMounts(this.args[1]!);
      cleanupMounts(this.args[3]!);
      rmSync(this.args[1]!, { recursive: true, force: true });
      rmSync(this.args[3]!, { recursive: true, force: true });
    }
    const d = join(base, `buildah-${n++}`);
    const root = join(d, 'root');
    const runroot = join(d, 'run');
    this.args = ['--root', root, '--runroot', runroot, '--storage-driver', 'overlay'];
    sh('skopeo', ['copy', '-q', `oci:${join(seedStore, 'images')}:${BASE_IMAGE}`, `containers-storage:[overlay@${root}+${runroot}]${BASE_IMAGE}`]);
  },
  build(extra = []) {
    return sh('buildah', [...this.args, 'build', '--layers', '--isolation', 'oci', '--network', 'host', '--format', 'oci', '-t', 'bench', '-f', DOCKERFILE, ...extra, CTX]);
  },
};

interface Row {
  name: string;
  target: number;
  skiff: number[];
  buildah: number[];
  /** user + system CPU ms of each timed build (the tool and the children it reaped), per tool */
  cpu: { skiff: number[]; buildah: number[] };
}

/** CPU ms (user + system) used so far by this process's reaped children (cutime + cstime of /proc/self/stat). */
function childrenCpu(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[13]) + Number(f[14])) * 10;
}
const rows: Row[] = [];

/** Alternates the two tools RUNS times; `prepare` runs untimed before each measurement; `extra` flags per tool. */
function compare(name: string, target: number, prepare: (t: Tool) => void, extra: (t: Tool) => string[] = () => []): void {
  const row: Row = { name, target, skiff: [], buildah: [], cpu: { skiff: [], buildah: [] } };
  for (let i = 0; i < RUNS; i++) {
    const order = i % 2 === 0 ? [buildah, skiff] : [skiff, buildah];
    for (const t of order) {
      prepare(t);
      const c = childrenCpu();
      row[t.name].push(timed(() => t.build(extra(t))));
      row.cpu[t.name].push(childrenCpu() - c);
    }
  }
  rows.push(row);
  process.stderr.write(`${name}: skiff ${median(row.skiff).toFixed(0)} ms, buildah ${median(row.buildah).toFixed(0)} ms\n`);
}

/** Changes one source file to content neither tool has built before. */
let edits = 0;
const touchOne = () => writeFileSync(join(CTX, 'src/d7/f13.txt'), `changed ${process.pid} ${++edits}\n`);

/** build-tool's own per-step times (`--> 0.123s` after each STEP line) from one build's output. */
function stepTimes(out: string): string {
  const lines = out.split('\n');
  const res: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /^\[?.*STEP (\d+\/\d+): (.*)$/.exec(lines[i]!);
    if (!m) continue;
    const t = lines.slice(i + 1, i + 40).find((l) => /^--> (\d+\.\d+s|Using cache)/.test(l) || /STEP \d+\//.test(l));
    res.push(`    ${(t && t.startsWith('-->') ? t.slice(4) : '-').padEnd(18)} ${m[2]!.slice(0, 90)}`);
  }
  return res.join('\n');
}

let reg: TestRegistry | undefined;
try {
  if (spawnSync('sh', ['-c', 'command -v buildah && command -v skopeo'], { stdio: 'ignore' }).status !== 0) throw new Error('buildah and skopeo are needed');
  sh(NODE, [join(ROOT, 'scripts/build.mjs')]);
  process.stderr.write(`setting up in ${base}\n`);
  // the base image, made offline, and the context: FILES small files in dirs of 100
  sh('bash', [join(ROOT, 'scripts/make-busybox-rootfs.sh'), join(base, 'bb-rootfs')]);
  sh('tar', ['--numeric-owner', '-C', join(base, 'bb-rootfs'), '-cf', bbTar, '.']);
  sh(NODE, [RUN_TOOL, '--root', seedStore, 'import', bbTar, BASE_IMAGE]);
  for (let d = 0; d * 100 < FILES; d++) {
    const sub = join(CTX, 'src', `d${d}`);
    mkdirSync(sub, { recursive: true });
    for (let f = 0; f < 100 && d * 100 + f < FILES; f++) writeFileSync(join(sub, `f${f}.txt`), `file ${d}/${f}\n${'x'.repeat(((d * 100 + f) * 37) % 2048)}\n`);
  }
  writeFileSync(join(CTX, 'src/d0/f0'), 'first\n');
  writeFileSync(join(CTX, '.dockerignore'), '*.tmp\n');
  writeFileSync(DOCKERFILE, DF);

  if (ONLY.has('a')) compare(`(a) cold build, fresh stores (${FILES}-file COPY, 2 stages, 3 RUN)`, 0.6, (t) => t.fresh());
  skiff.fresh();
  buildah.fresh();
  skiff.build();
  buildah.build();
  if (ONLY.has('b')) compare('(b) fully cached rebuild, nothing changed', 0.08, () => {});
  if (ONLY.has('c')) compare('(c) rebuild after changing one source file', 0.5, () => touchOne());
  if (ONLY.has('d')) {
    reg = await startRegistry();
    const repo = (t: Tool) => `${reg!.host}/bench/${t.name}-cache`;
    // another runner fills each tool's cache repository (untimed)
    for (const t of [skiff, buildah] as Tool[]) {
      t.fresh();
      t.build(['--tls-verify=false', '--cache-to', repo(t)]);
    }
    compare('(d) fresh runner, layer cache from a registry (--cache-from)', 0.5, (t) => t.fresh(), (t) => ['--tls-verify=false', '--cache-from', repo(t)]);
  }

  const out: string[] = [];
  out.push(`| scenario | skiff min / median (ms) | buildah min / median (ms) | ratio (median) | target | CPU skiff / buildah (median ms) | CPU ratio |`);
  out.push(`|---|---|---|---|---|---|---|`);
  for (const r of rows) {
    const ratio = median(r.skiff) / median(r.buildah);
    out.push(`| ${r.name} | ${min(r.skiff).toFixed(0)} / ${median(r.skiff).toFixed(0)} | ${min(r.buildah).toFixed(0)} / ${median(r.buildah).toFixed(0)} | ${ratio.toFixed(2)}× ${ratio <= r.target ? 'ok' : 'MISSED'} | ≤ ${r.target}× | ${median(r.cpu.skiff).toFixed(0)} / ${median(r.cpu.buildah).toFixed(0)} | ${(median(r.cpu.skiff) / median(r.cpu.buildah)).toFixed(2)}× |`);
  }
  process.stdout.write(`\nbuild-tool vs buildah build --layers, ${RUNS} runs each, alternating\n${out.join('\n')}\n`);

  if (values.steps) {
    // where build-tool's time goes, from its own step timings; fixed costs measured alone
    const nodeStart = median(Array.from({ length: 5 }, () => timed(() => sh(NODE, ['-e', '0']))));
    const bundleLoad = median(Array.from({ length: 5 }, () => timed(() => sh(BUILD_TOOL, ['--version']))));
    process.stdout.write(`\nfixed costs (median of 5): node -e 0 ${nodeStart.toFixed(0)} ms; build-tool --version ${bundleLoad.toFixed(0)} ms\n`);
    skiff.fresh();
    let o = '';
    let ms = timed(() => (o = skiff.build()));
    process.stdout.write(`build-tool cold build, ${ms.toFixed(0)} ms:\n${stepTimes(o)}\n`);
    ms = timed(() => (o = skiff.build()));
    process.stdout.write(`build-tool cached rebuild, ${ms.toFixed(0)} ms:\n${stepTimes(o)}\n`);
    touchOne();
    ms = timed(() => (o = skiff.build()));
    process.stdout.write(`build-tool one-file change, ${ms.toFixed(0)} ms:\n${stepTimes(o)}\n`);
  }
} finally {
  await reg?.stop();
  if (buildah.args.length) {
    spawnSync('buildah', [...buildah.args, 'rm', '--all'], { stdio: 'ignore' });
    spawnSync('buildah', [...buildah.args, 'rmi', '--all', '--force'], { stdio: 'ignore' });
  }
  cleanupMounts(base);
  rmSync(base, { recursive: true, force: true });
}
