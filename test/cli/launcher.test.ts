import { describe, expect, it } from 'vitest';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const repo = resolve(import.meta.dirname, '../..');
const TOOLS = ['build-tool', 'copy-tool', 'run-tool'];

function nodeVersion(bin: string): string | undefined {
  try {
    return execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim().replace(/^v/, '');
  } catch {
    return undefined;
  }
}
const systemNode = ['/usr/bin/node', '/usr/local/bin/node'].find((p) => {
  const v = nodeVersion(p);
  if (!v) return false;
  const [maj, min] = v.split('.').map(Number) as [number, number];
  return maj < 22 || (maj === 22 && min < 15);
});
/** The Node.js that `npm ci` pinned into the checkout (the launcher re-executes with it). */
const pinned = existsSync(resolve(repo, 'node_modules/node/bin/node'));

describe('launchers', () => {
  it.each(TOOLS)('%s --version prints the version and exits 0', (tool) => {
    const r = spawnSync(process.execPath, [resolve(repo, 'bin', `${tool}.mjs`), '--version'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toMatch(new RegExp(`^${tool} version \\d+\\.\\d+\\.\\d+`));
    expect(existsSync(resolve(repo, 'dist', `${tool}.mjs`))).toBe(true);
  });

  it.each(TOOLS)('%s --version loads no builtin it does not use (node:fs without an ES module facade, whose fs.promises getter loads fs/promises and readline)', (tool) => {
    const hook = `data:text/javascript,${encodeURIComponent("process.on('exit', () => process.stderr.write('BUILTINS ' + process.moduleLoadList.join(',') + '\\n'))")}`;
    const r = spawnSync(process.execPath, ['--import', hook, resolve(repo, 'bin', `${tool}.mjs`), '--version'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const loaded = r.stderr.split('\n').find((l) => l.startsWith('BUILTINS '))!.split(',');
    expect(loaded.some((m) => m.includes('internal/fs/utils'))).toBe(true); // the list is there (node:fs itself)
    expect(loaded.filter((m) => /internal\/fs\/promises|readline/.test(m))).toEqual([]);
  });

  it.skipIf(!systemNode || !pinned).each(TOOLS)('%s under an old system Node re-executes with the pinned Node', (tool) => {
    const r = spawnSync(systemNode!, [resolve(repo, 'bin', `${tool}.mjs`), '--version'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toMatch(new RegExp(`^${tool} version \\d+\\.\\d+\\.\\d+`));
  });

  it.skipIf(!systemNode || !pinned)('through a symlink under its own name (as npm link and ~/.local/bin make it), old Node keeps exit codes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'skiff-launch-'));
    try {
      symlinkSync(resolve(repo, 'bin', 'run-tool.mjs'), join(dir, 'run-tool'));
      // the shebang's `node` is the old system one: PATH holds only its directory
      const r = spawnSync(join(dir, 'run-tool'), ['no-such-command'], { encoding: 'utf8', env: { ...process.env, PATH: `${dirname(systemNode!)}:/usr/bin:/bin` } });
      expect(r.status, r.stderr).toBe(125);
      expect(r.stderr).not.toMatch(/too old/);
      const v = spawnSync(join(dir, 'run-tool'), ['--version'], { encoding: 'utf8', env: { ...process.env, PATH: `${dirname(systemNode!)}:/usr/bin:/bin` } });
      expect(v.status, v.stderr).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(!systemNode || !pinned)('a TERM sent to the launcher reaches the tool, which ends at once though its connection hangs', async () => {
    // the tool waits on a registry that accepts the connection and never answers
    let connected!: () => void;
    const reached = new Promise<void>((r) => (connected = r));
    const server = createServer(() => connected());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const child = spawn(systemNode!, [resolve(repo, 'bin', 'copy-tool.mjs'), 'inspect', '--retry-times', '0', '--tls-verify=false', `docker://127.0.0.1:${port}/x:y`], { stdio: 'ignore' });
      const exited = new Promise<[number | null, NodeJS.Signals | null]>((r) => child.on('exit', (c, s) => r([c, s])));
      await reached;
      const tool = Number(execFileSync('ps', ['-o', 'pid=', '--ppid', String(child.pid)], { encoding: 'utf8' }).trim());
      expect(tool).toBeGreaterThan(0);
      const t0 = Date.now();
      child.kill('SIGTERM');
      const [code, signal] = await exited;
      expect(code !== 0 || signal === 'SIGTERM').toBe(true);
      // cancelled while its TLS handshake hangs, the command ends at once, not after the 10 s connect timeout
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(() => process.kill(tool, 0)).toThrow();
    } finally {
      server.close();
    }
  });

  it.skipIf(!systemNode).each(TOOLS)('%s under an old system Node without a pinned one prints a clear error and exits 1', (tool) => {
    const dir = mkdtempSync(join(tmpdir(), 'skiff-launch-'));
    try {
      mkdirSync(join(dir, 'bin'));
      for (const f of ['launch.mjs', `${tool}.mjs`]) copyFileSync(resolve(repo, 'bin', f), join(dir, 'bin', f));
      const r = spawnSync(systemNode!, [join(dir, 'bin', `${tool}.mjs`), '--version'], { encoding: 'utf8' });
      expect(r.status).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(new RegExp(`^${tool}: Node\\.js \\S+ is too old; skiff needs Node\\.js 22\\.15 or newer`));
      expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an unknown option exits non-zero with two lines on stderr (the error and where help is), not the whole help', () => {
    const r = spawnSync(process.execPath, [resolve(repo, 'bin', 'copy-tool.mjs'), '--no-such-flag'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe("Error: unknown flag: --no-such-flag\nSee 'copy-tool --help'\n");
    expect(r.stdout).toBe('');
  });

  it('run-tool: a bad flag of a command prints podman\'s two lines and exits 125, also when stdout is a closed pipe', () => {
    const r = spawnSync('bash', ['-c', `${JSON.stringify(process.execPath)} ${JSON.stringify(resolve(repo, 'bin', 'run-tool.mjs'))} ps --bogus | head -1; exit \${PIPESTATUS[0]}`], { encoding: 'utf8' });
    expect(r.status).toBe(125);
    expect(r.stderr).toBe("Error: unknown flag: --bogus\nSee 'run-tool ps --help'\n");
    expect(r.stdout).toBe('');
  });

  it('run-tool with no command: "Error: missing command" on stderr, the usage on stdout, 125', () => {
    const r = spawnSync(process.execPath, [resolve(repo, 'bin', 'run-tool.mjs')], { encoding: 'utf8' });
    expect(r.status).toBe(125);
    expect(r.stderr).toBe("Error: missing command 'run-tool COMMAND'\n");
    expect(r.stdout).toMatch(/^Usage: run-tool \[options\] \[command\]/);
    expect(r.stdout).toContain('Commands:');
  });
});

describe('launcher start-up', () => {
  it('a bare --version is answered without loading the bundle', () => {
    const dir = mkdtempSync(join(tmpdir(), 'skiff-launch-'));
    try {
      mkdirSync(join(dir, 'bin'));
      for (const f of ['launch.mjs', 'copy-tool.mjs']) copyFileSync(resolve(repo, 'bin', f), join(dir, 'bin', f));
      copyFileSync(resolve(repo, 'package.json'), join(dir, 'package.json'));
      // no dist/ at all: only the launcher can answer
      const r = spawnSync(process.execPath, [join(dir, 'bin', 'copy-tool.mjs'), '--version'], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const pkg = JSON.parse(readFileSync(resolve(repo, 'package.json'), 'utf8')) as { version: string };
      expect(r.stdout).toBe(`copy-tool version ${pkg.version}\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--version after other arguments still goes through the tool (same output)', () => {
    const r = spawnSync(process.execPath, [resolve(repo, 'bin', 'copy-tool.mjs'), '--debug', '--version'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^copy-tool version \d+\.\d+\.\d+\n$/);
  });

  describe('compile cache directory', () => {
    const uid = process.getuid!();
    async function cacheDir(env: Record<string, string | undefined>, asUid = uid): Promise<string | undefined> {
      const { compileCacheDir } = (await import(resolve(repo, 'bin/launch.mjs'))) as { compileCacheDir: (e: object, u: number) => string | undefined };
      return compileCacheDir(env, asUid);
    }

    it('is made 0700 under $XDG_CACHE_HOME (or ~/.cache) of the user running the tool', async () => {
      const home = mkdtempSync(join(tmpdir(), 'skiff-cache-'));
      try {
        const d = await cacheDir({ HOME: home });
        expect(d).toBe(join(home, '.cache/skiff/node-compile-cache'));
        expect(statSync(d!).mode & 0o777).toBe(0o700);
        expect(await cacheDir({ HOME: home, XDG_CACHE_HOME: join(home, 'xdg') })).toBe(join(home, 'xdg/skiff/node-compile-cache'));
      } finally {
        rmSync(home, { recursive: true, force: true });
      }
    });

    it('is not used when others may write to it, when it is a symlink, or when the home is another user\'s', async () => {
      const home = mkdtempSync(join(tmpdir(), 'skiff-cache-'));
      try {
        const d = (await cacheDir({ HOME: home }))!;
        chmodSync(d, 0o777);
        expect(await cacheDir({ HOME: home })).toBeUndefined();
        chmodSync(d, 0o700);
        chmodSync(dirname(d), 0o777);
        expect(await cacheDir({ HOME: home })).toBeUndefined();
        chmodSync(dirname(d), 0o700);
        rmSync(d, { recursive: true });
        const elsewhere = mkdtempSync(join(tmpdir(), 'skiff-cache-other-'));
        symlinkSync(elsewhere, d);
        expect(await cacheDir({ HOME: home })).toBeUndefined();
        rmSync(elsewhere, { recursive: true, force: true });
        // sudo keeping the caller's HOME: root must not create root-owned files in it
        expect(await cacheDir({ HOME: home }, uid + 1)).toBeUndefined();
      } finally {
        rmSync(home, { recursive: true, force: true });
      }
    });

    it('without a home falls back to a private /tmp/skiff-<uid> directory, refused when someone else made it', async () => {
      const tmpDir = `/tmp/skiff-${uid}/node-compile-cache`;
      expect(await cacheDir({})).toBe(tmpDir);
      expect(await cacheDir({ HOME: '/nonexistent-home-for-skiff-test' })).toBe(tmpDir);
      expect(statSync(tmpDir).mode & 0o777).toBe(0o700);
      // a directory of that name made by another user (seen here as owned by another uid) is not used
      expect(await cacheDir({}, uid + 1)).toBeUndefined();
    });

    it('is skipped, not fatal, when it cannot be made or is switched off', async () => {
      const home = mkdtempSync(join(tmpdir(), 'skiff-cache-'));
      try {
        writeFileSync(join(home, '.cache'), 'a file where the directory would go');
        expect(await cacheDir({ HOME: home })).toBeUndefined();
        expect(await cacheDir({ HOME: join(home, 'x'), XDG_CACHE_HOME: join(home, '.cache/sub') })).toBeUndefined();
        expect(await cacheDir({ HOME: home, XDG_CACHE_HOME: join(home, 'x'), SKIFF_NO_COMPILE_CACHE: '1' })).toBeUndefined();
        // the tool still runs without one
        const r = spawnSync(process.execPath, [resolve(repo, 'bin', 'copy-tool.mjs'), 'inspect', '--help'], { encoding: 'utf8', env: { ...process.env, HOME: home, XDG_CACHE_HOME: '' } });
        expect(r.status, r.stderr).toBe(0);
      } finally {
        rmSync(home, { recursive: true, force: true });
      }
    });
  });
});

describe('per-command bundles', () => {
  type BundleFor = (tool: string, args: string[], env?: object) => URL;
  const bundleFor = async () => ((await import(resolve(repo, 'bin/launch.mjs'))) as { bundleFor: BundleFor }).bundleFor;
  const rel = (u: URL) => u.pathname.replace(`${repo}/`, '');

  it('a hot command named first (or after --root DIR) loads its own bundle; anything else the all-commands one', async () => {
    const pick = await bundleFor();
    expect(rel(pick('run-tool', ['run', '--rm', 'img']))).toBe('dist/hot/run-tool-run/main.mjs');
    expect(rel(pick('run-tool', ['--root', '/x', 'ps']))).toBe('dist/hot/run-tool-ps/main.mjs');
    expect(rel(pick('run-tool', ['--root=/x', 'rm', 'c']))).toBe('dist/hot/run-tool-rm/main.mjs');
    expect(rel(pick('copy-tool', ['copy', 'a', 'b']))).toBe('dist/hot/copy-tool-copy/main.mjs');
    for (const args of [[], ['--help'], ['help', 'run'], ['--debug', 'copy'], ['logs', 'c'], ['../hot/run-tool-run', 'x'], ['container', 'ps'], ['RUN']]) {
      expect(rel(pick('run-tool', args)), args.join(' ')).toBe('dist/run-tool.mjs');
    }
    expect(rel(pick('run-tool', ['run'], { SKIFF_ALL_COMMANDS_BUNDLE: '1' }))).toBe('dist/run-tool.mjs');
  });

  it.each([
    ['run-tool', 'run'],
    ['run-tool', 'ps'],
    ['run-tool', 'container-cleanup'],
    ['copy-tool', 'copy'],
    ['copy-tool', 'inspect'],
  ])('%s %s --help is the same from its own bundle and from the all-commands bundle', (tool, command) => {
    const run = (env: object) => spawnSync(process.execPath, [resolve(repo, 'bin', `${tool}.mjs`), command, '--help'], { encoding: 'utf8', env: { ...process.env, ...env } });
    const hot = run({});
    const all = run({ SKIFF_ALL_COMMANDS_BUNDLE: '1' });
    expect(hot.status, hot.stderr).toBe(0);
    expect(hot.stdout).toBe(all.stdout);
    expect(hot.stdout).toContain(command);
  });

  it('a rebuild removes the chunks and bundles an earlier build left, and keeps what it wrote', () => {
    const out = mkdtempSync(join(tmpdir(), 'skiff-build-'));
    try {
      // (start-up snapshots are left out: test/cli/start-snapshot.test.ts covers them; a rebuild still removes old ones)
      const build = () => spawnSync(process.execPath, [resolve(repo, 'scripts/build.mjs'), '--outdir', out], { cwd: repo, encoding: 'utf8', env: { ...process.env, SKIFF_NO_SNAPSHOT: '1' } });
      expect(build().status).toBe(0);
      const stale = ['chunks/chunk-OLD00000.mjs', 'hot/run-tool-run/chunk-OLD00000.mjs', 'hot/run-tool-gone/main.mjs', 'gone-tool.mjs', 'snapshot/node', 'snapshot/v0.0.1/run-tool-ps.blob'];
      for (const f of stale) {
        mkdirSync(dirname(join(out, f)), { recursive: true });
        writeFileSync(join(out, f), 'export {};\n');
      }
      const r = build();
      expect(r.status, r.stderr).toBe(0);
      expect(stale.filter((f) => existsSync(join(out, f)))).toEqual([]);
      expect(existsSync(join(out, 'hot/run-tool-gone'))).toBe(false);
      for (const t of TOOLS) expect(existsSync(join(out, `${t}.mjs`))).toBe(true);
      expect(existsSync(join(out, 'hot/run-tool-run/main.mjs'))).toBe(true);
      expect(readdirSync(join(out, 'man')).length).toBeGreaterThan(10);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('start-up stays light', () => {
  /** Every file the entry loads before running: static `import … from "./chunks/…"` edges, transitively. */
  function staticGraph(file: string, seen = new Set<string>()): Set<string> {
    if (seen.has(file)) return seen;
    seen.add(file);
    const src = readFileSync(file, 'utf8');
    for (const m of src.matchAll(/^\s*import\s[^'"()]*?from\s*["'](\.[^"']+)["']|^\s*import\s*["'](\.[^"']+)["']/gm)) {
      staticGraph(resolve(dirname(file), (m[1] ?? m[2])!), seen);
    }
    return seen;
  }

  it.each(TOOLS)('%s loads neither undici nor openpgp until a command needs them', (tool) => {
    const files = [...staticGraph(resolve(repo, 'dist', `${tool}.mjs`))];
    expect(files.length).toBeGreaterThan(1); // the graph walk found the chunks (it can fail)
    const eager = files.filter((f) => /node_modules\/(undici|openpgp)\//.test(readFileSync(f, 'utf8')));
    expect(eager.map((f) => f.replace(repo, ''))).toEqual([]);
  });
});
