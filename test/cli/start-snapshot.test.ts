// V8 start-up snapshots (issue 19, scripts/startup-snapshot.mjs): bin/<tool>.mjs executed directly starts a hot
// command from dist/snapshot/<node version>/<tool>-<command>.blob and answers exactly as `node bin/<tool>.mjs`
// (the ES-module bundles) does; a blob that is missing, older than its bundle or its Node.js, or of another Node
// version is not used. Whether the blob was used is seen from outside: PATH's first `node` is a stub that fails
// with exit 99, which only the fallback (`exec node "$0"`) reaches — the snapshot path starts the Node.js that built it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { scratchDir } from '../helpers/tmp.ts';
import { busyboxTarball, hasBusybox } from '../helpers/busybox.ts';

const repo = resolve(import.meta.dirname, '../..');
const snapshotNode = join(repo, 'dist/snapshot/node');
const line = existsSync(snapshotNode) ? readFileSync(snapshotNode, 'utf8').trim() : '';
const version = line ? line.slice(0, line.indexOf(' ')) : undefined;
const builtBy = line ? line.slice(line.indexOf(' ') + 1) : undefined;
const blob = (tool: string, command: string) => join(repo, 'dist/snapshot', version ?? 'none', `${tool}-${command}.blob`);
const hasSnapshots = builtBy !== undefined && existsSync(blob('run-tool', 'ps'));

describe.skipIf(!hasSnapshots)('start-up snapshots', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let stubPath: string; // PATH whose `node` fails with 99
  let root: string;

  /** bin/<tool>.mjs executed directly (the shell lines choose the snapshot) with `node` on PATH failing. */
  const direct = (bin: string, args: string[]) => spawnSync(bin, args, { encoding: 'utf8', env: { ...process.env, PATH: stubPath } });
  /** The same through `node bin/<tool>.mjs`: the ES-module bundles, never a snapshot. */
  const plain = (bin: string, args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
  const same = (tool: string, args: string[]) => {
    const bin = join(repo, 'bin', `${tool}.mjs`);
    const a = direct(bin, args);
    const b = plain(bin, args);
    expect({ status: a.status, stdout: a.stdout, stderr: a.stderr }).toEqual({ status: b.status, stdout: b.stdout, stderr: b.stderr });
    return a;
  };

  beforeAll(async () => {
    ({ dir, cleanup } = await scratchDir('skiff-snapshot-'));
    mkdirSync(join(dir, 'stub'));
    writeFileSync(join(dir, 'stub/node'), '#!/bin/sh\necho "the fallback node ran" >&2\nexit 99\n');
    chmodSync(join(dir, 'stub/node'), 0o755);
    stubPath = `${join(dir, 'stub')}:${process.env.PATH}`;
    root = join(dir, 'root');
  });
  afterAll(async () => {
    await cleanup?.();
  });

  it('the hot commands that V8 can snapshot have a blob, built by the Node.js of the build', () => {
    expect(version).toBe(spawnSync(builtBy!, ['-p', 'process.version'], { encoding: 'utf8' }).stdout.trim());
    for (const [tool, command] of [['run-tool', 'ps'], ['run-tool', 'run'], ['run-tool', 'rm'], ['run-tool', 'inspect'], ['copy-tool', 'copy'], ['build-tool', 'build']]) {
      expect(existsSync(blob(tool!, command!)), `${tool} ${command}`).toBe(true);
    }
  });

  it('ps --format json on an empty store, a usage error and a missing container answer as the plain bundle', () => {
    expect(same('run-tool', ['--root', root, 'ps', '--format', 'json']).stdout).toBe('[]\n');
    expect(same('run-tool', [`--root=${root}`, 'ps', '-a', '--format', '{{.ID}}']).status).toBe(0);
    expect(same('run-tool', ['--root', root, 'ps', '--no-such-flag']).status).toBe(125);
    const missing = same('run-tool', ['--root', root, 'inspect', 'no-such-container']);
    expect(missing.status).toBe(125);
    expect(missing.stderr).toMatch(/no-such-container/);
    expect(same('run-tool', ['ps', '--help']).stdout).toContain('ps');
  });

  it('--version is the launcher\'s answer either way', () => {
    const bin = join(repo, 'bin/run-tool.mjs');
    const a = spawnSync(bin, ['--version'], { encoding: 'utf8' });
    expect(a.status).toBe(0);
    expect(a.stdout).toBe(plain(bin, ['--version']).stdout);
    // after a hot command it is that command's flag (an error, as podman's): the snapshot's commander says the same
    expect(same('run-tool', ['ps', '--version']).status).toBe(125);
  });

  it.skipIf(!hasBusybox)('copy to an oci: layout from the snapshot writes what the plain bundle writes; inspect of it answers the same', () => {
    const r = plain(join(repo, 'bin/run-tool.mjs'), ['--root', root, 'import', '-q', '--change', 'CMD ["/bin/sh"]', busyboxTarball(dir), 'bb:1']);
    expect(r.status, r.stderr).toBe(0);
    const ct = join(repo, 'bin/copy-tool.mjs');
    const a = direct(ct, ['--root', root, 'copy', '-q', 'store:bb:1', `oci:${join(dir, 'a')}:v1`]);
    expect(a.status, a.stderr).toBe(0);
    const b = plain(ct, ['--root', root, 'copy', '-q', 'store:bb:1', `oci:${join(dir, 'b')}:v1`]);
    expect(b.status, b.stderr).toBe(0);
    expect(readFileSync(join(dir, 'a/index.json'), 'utf8')).toBe(readFileSync(join(dir, 'b/index.json'), 'utf8'));
    // inspect has no blob (V8 cannot serialize what its start-up modules hold): the bin falls back, same answer
    const inspect = ['inspect', `oci:${join(dir, 'a')}:v1`];
    const viaBin = spawnSync(ct, inspect, { encoding: 'utf8' });
    const viaNode = plain(ct, inspect);
    expect(viaBin.status, viaBin.stderr).toBe(0);
    expect(viaBin.stdout).toBe(viaNode.stdout);
    if (existsSync(blob('copy-tool', 'inspect'))) same('copy-tool', inspect);
  });

  it('a blob older than its bundle, older than its Node.js, or of another Node version is not used', () => {
    // a copy of the checkout's bin/ and the parts of dist/ the shell lines look at, with the real blob
    const copy = join(dir, 'checkout');
    cpSync(join(repo, 'bin'), join(copy, 'bin'), { recursive: true });
    mkdirSync(join(copy, 'dist/hot/run-tool-ps'), { recursive: true });
    mkdirSync(join(copy, 'dist/snapshot', version!), { recursive: true });
    const copiedBlob = join(copy, 'dist/snapshot', version!, 'run-tool-ps.blob');
    copyFileSync(blob('run-tool', 'ps'), copiedBlob);
    const bundle = join(copy, 'dist/hot/run-tool-ps/main.mjs');
    writeFileSync(bundle, '');
    const pointer = join(copy, 'dist/snapshot/node');
    const bin = join(copy, 'bin/run-tool.mjs');
    const run = () => direct(bin, ['--root', root, 'ps', '--format', 'json']);
    const past = new Date(Date.now() - 3600_000);
    const future = new Date(Date.now() + 3600_000);

    // current: the blob is newer than its bundle and its Node.js → used
    writeFileSync(pointer, `${version} ${builtBy}\n`);
    utimesSync(bundle, past, past);
    expect(run()).toMatchObject({ status: 0, stdout: '[]\n' });
    // the bundle rebuilt after the blob → stale, the fallback runs (the stub node: 99)
    utimesSync(bundle, future, future);
    expect(run()).toMatchObject({ status: 99, stderr: 'the fallback node ran\n' });
    utimesSync(bundle, past, past);
    // the Node.js binary replaced after the blob was built → not used
    const newerNode = join(dir, 'newer-node');
    writeFileSync(newerNode, '#!/bin/sh\necho "the replaced node ran" >&2\nexit 98\n');
    chmodSync(newerNode, 0o755);
    utimesSync(newerNode, future, future);
    writeFileSync(pointer, `${version} ${newerNode}\n`);
    expect(run().status).toBe(99);
    // built by another Node version: no blob in that version's directory → not used
    writeFileSync(pointer, `v0.0.1 ${builtBy}\n`);
    expect(run().status).toBe(99);
    // SKIFF_NO_SNAPSHOT=1 and the all-commands bundle switch skip it too
    writeFileSync(pointer, `${version} ${builtBy}\n`);
    for (const off of ['SKIFF_NO_SNAPSHOT', 'SKIFF_ALL_COMMANDS_BUNDLE']) {
      expect(spawnSync(bin, ['--root', root, 'ps'], { encoding: 'utf8', env: { ...process.env, PATH: stubPath, [off]: '1' } }).status).toBe(99);
    }
  });

  it('a command name that is not a plain word never reaches a blob path', () => {
    const bin = join(repo, 'bin/run-tool.mjs');
    for (const word of ['../snapshot/x', 'PS', '-ps']) expect(direct(bin, [word]).status, word).toBe(99);
  });

});

// The shell lines every bin shares (bin/snapshot-start.sh), for each tool, in a fake checkout: the "Node.js" that
// built the blobs is a script printing how it was started, and PATH's `node` (the fallback) another; no real blob
// is needed, so this runs whether or not `npm run build` made snapshots.
describe('the bins\' snapshot start (bin/snapshot-start.sh)', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let copy: string;
  let env: NodeJS.ProcessEnv;
  const tools = ['build-tool', 'copy-tool', 'run-tool'] as const;
  const hot = { 'build-tool': 'build', 'copy-tool': 'copy', 'run-tool': 'ps' } as const;
  const past = new Date(Date.now() - 3600_000);
  const blobOf = (tool: string, command: string) => join(copy, 'dist/snapshot/v99.0.0', `${tool}-${command}.blob`);
  const bundleOf = (tool: string, command: string) => join(copy, 'dist/hot', `${tool}-${command}`, 'main.mjs');
  /** Runs bin/<tool>.mjs of the fake checkout; stdout is `snapshot BLOB -- ARGS` or `fallback SCRIPT ARGS`, then MALLOC_ARENA_MAX and MALLOC_MMAP_THRESHOLD_. */
  const start = (tool: string, args: string[], extra: NodeJS.ProcessEnv = {}) => {
    const r = spawnSync(join(copy, 'bin', `${tool}.mjs`), args, { encoding: 'utf8', env: { ...env, ...extra } });
    expect(r.status, r.stderr).toBe(0);
    return r.stdout.replace(/\n$/, '').split('\n');
  };

  beforeAll(async () => {
    ({ dir, cleanup } = await scratchDir('skiff-snapshot-start-'));
    copy = join(dir, 'checkout');
    cpSync(join(repo, 'bin'), join(copy, 'bin'), { recursive: true });
    mkdirSync(join(dir, 'path'));
    const script = (file: string, what: string) => {
      writeFileSync(file, `#!/bin/sh\n${what}\necho "\${MALLOC_ARENA_MAX-unset}"\necho "\${MALLOC_MMAP_THRESHOLD_-unset}"\n`);
      chmodSync(file, 0o755);
    };
    script(join(dir, 'path/node'), 'echo fallback "$@"');
    const builtBy = join(dir, 'built-by-node');
    script(builtBy, 'echo snapshot "$@"');
    utimesSync(builtBy, past, past);
    mkdirSync(join(copy, 'dist/snapshot/v99.0.0'), { recursive: true });
    writeFileSync(join(copy, 'dist/snapshot/node'), `v99.0.0 ${builtBy}\n`);
    for (const t of tools) {
      mkdirSync(join(copy, 'dist/hot', `${t}-${hot[t]}`), { recursive: true });
      writeFileSync(bundleOf(t, hot[t]), '');
      utimesSync(bundleOf(t, hot[t]), past, past);
      writeFileSync(blobOf(t, hot[t]), '');
    }
    const { MALLOC_ARENA_MAX: _, MALLOC_MMAP_THRESHOLD_: __, ...rest } = process.env;
    env = { ...rest, PATH: `${join(dir, 'path')}:${process.env.PATH}` };
  });
  afterAll(async () => {
    await cleanup?.();
  });

  it('each tool starts its hot command from a current blob, after --root DIR or --root=DIR too', () => {
    for (const t of tools) {
      const c = hot[t];
      expect(start(t, [c, '-x'])[0], t).toBe(`snapshot --snapshot-blob ${copy}/bin/../dist/snapshot/v99.0.0/${t}-${c}.blob -- ${c} -x`);
      expect(start(t, ['--root', '/r', c])[0], t).toBe(`snapshot --snapshot-blob ${copy}/bin/../dist/snapshot/v99.0.0/${t}-${c}.blob -- --root /r ${c}`);
      expect(start(t, ['--root=/r', c])[0], t).toMatch(/^snapshot .* -- --root=\/r /);
      // not a hot command, an option first, no command: the fallback with the bin's own path
      for (const args of [['images'], ['--log-level', 'debug', c], [], ['--version'], ['--root', '/r']]) {
        expect(start(t, args)[0], `${t} ${args.join(' ')}`).toBe(['fallback', join(copy, 'bin', `${t}.mjs`), ...args].join(' '));
      }
    }
  });

  it('a stale or missing blob, SKIFF_NO_SNAPSHOT=1 and SKIFF_ALL_COMMANDS_BUNDLE=1 fall back; a symlinked bin still finds its checkout', () => {
    for (const t of tools) {
      const c = hot[t];
      expect(start(t, [c], { SKIFF_NO_SNAPSHOT: '1' })[0]).toMatch(/^fallback /);
      expect(start(t, [c], { SKIFF_ALL_COMMANDS_BUNDLE: '1' })[0]).toMatch(/^fallback /);
      const future = new Date(Date.now() + 3600_000);
      utimesSync(bundleOf(t, c), future, future); // the bundle rebuilt after the blob
      expect(start(t, [c])[0], t).toMatch(/^fallback /);
      utimesSync(bundleOf(t, c), past, past);
      const link = join(dir, `linked-${t}`);
      if (!existsSync(link)) symlinkSync(join(copy, 'bin', `${t}.mjs`), link);
      expect(spawnSync(link, [c], { encoding: 'utf8', env }).stdout, t).toMatch(/^snapshot /);
    }
    rmSync(blobOf('run-tool', 'ps'));
    expect(start('run-tool', ['ps'])[0]).toMatch(/^fallback /);
    writeFileSync(blobOf('run-tool', 'ps'), '');
  });

  it('copy-tool copy and sync start with MALLOC_ARENA_MAX=1 unless it is set; other commands and tools keep the environment', () => {
    expect(start('copy-tool', ['copy', 'a', 'b'])[1]).toBe('1'); // snapshot path
    expect(start('copy-tool', ['--root', '/r', 'sync', 'a', 'b'])[1]).toBe('1'); // fallback path (no blob)
    expect(start('copy-tool', ['copy'], { MALLOC_ARENA_MAX: '4' })[1]).toBe('4');
    expect(start('copy-tool', ['copy'], { MALLOC_ARENA_MAX: '' })[1]).toBe('');
    expect(start('copy-tool', ['inspect', 'x'])[1]).toBe('unset');
    expect(start('run-tool', ['ps'])[1]).toBe('unset');
    expect(start('build-tool', ['build'])[1]).toBe('unset');
  });

  it('copy-tool copy and sync start with the glibc mmap threshold fixed (MALLOC_MMAP_THRESHOLD_=131072) unless it is set; other commands and tools keep the environment', () => {
    expect(start('copy-tool', ['copy', 'a', 'b'])[2]).toBe('131072'); // snapshot path
    expect(start('copy-tool', ['--root', '/r', 'sync', 'a', 'b'])[2]).toBe('131072'); // fallback path (no blob)
    expect(start('copy-tool', ['copy'], { MALLOC_MMAP_THRESHOLD_: '4096' })[2]).toBe('4096');
    expect(start('copy-tool', ['copy'], { MALLOC_MMAP_THRESHOLD_: '' })[2]).toBe('');
    // each is kept or set on its own
    expect(start('copy-tool', ['copy'], { MALLOC_ARENA_MAX: '4' }).slice(1)).toEqual(['4', '131072']);
    expect(start('copy-tool', ['copy'], { MALLOC_MMAP_THRESHOLD_: '4096' }).slice(1)).toEqual(['1', '4096']);
    expect(start('copy-tool', ['inspect', 'x'])[2]).toBe('unset');
    expect(start('run-tool', ['ps'])[2]).toBe('unset');
    expect(start('build-tool', ['build'])[2]).toBe('unset');
  });
});
