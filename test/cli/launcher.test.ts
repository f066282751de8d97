import { describe, expect, it } from 'vitest';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
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
