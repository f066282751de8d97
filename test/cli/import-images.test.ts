import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { scratchDir } from '../helpers/tmp.ts';
import { busyboxTarball, hasBusybox } from '../helpers/busybox.ts';

const repo = resolve(import.meta.dirname, '../..');
function tool(name: string, args: string[], o: { input?: Buffer; env?: NodeJS.ProcessEnv } = {}) {
  return spawnSync(process.execPath, [join(repo, 'bin', `${name}.mjs`), ...args], {
    encoding: 'utf8',
    ...(o.input ? { input: o.input } : {}),
    env: { ...process.env, ...o.env },
  });
}

describe.skipIf(!hasBusybox)('run-tool import and images', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let root: string;
  let tar: string;
  let id: string;

  beforeAll(async () => {
    ({ dir, cleanup } = await scratchDir());
    root = join(dir, 'root');
    tar = busyboxTarball(dir);
    const r = tool('run-tool', ['--root', root, 'import', tar, 'app']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    id = r.stdout.trim();
  });
  afterAll(() => cleanup());

  it('import prints the 64-hex image ID', () => {
    expect(id).toMatch(/^[a-f0-9]{64}$/);
  });

  it('images lists it with podman columns under its local name', () => {
    const r = tool('run-tool', ['--root', root, 'images']);
    expect(r.status).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/);
    expect(lines[1]).toMatch(new RegExp(`^localhost/app\\s+latest\\s+${id.slice(0, 12)}\\s+.+ ago\\s+[\\d.]+ [kM]B$`));
  });

  it('--root after the command name, -q, --no-trunc, json and templates', () => {
    expect(tool('build-tool', ['images', '--root', root, '-q']).stdout).toBe(`${id.slice(0, 12)}\n`);
    expect(tool('build-tool', ['images', '--root', root, '-q', '--no-trunc']).stdout).toBe(`sha256:${id}\n`);
    const json = JSON.parse(tool('run-tool', ['--root', root, 'images', '--format', 'json']).stdout) as { Id: string; Names: string[] }[];
    expect(json).toHaveLength(1);
    expect(json[0]!.Id).toBe(id);
    expect(json[0]!.Names).toEqual(['localhost/app:latest']);
    expect(tool('run-tool', ['--root', root, 'images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}']).stdout).toBe(`localhost/app:latest ${id.slice(0, 12)}\n`);
  });

  it('SKIFF_ROOT selects the store when --root is absent', () => {
    expect(tool('run-tool', ['images', '-q'], { env: { SKIFF_ROOT: root } }).stdout).toBe(`${id.slice(0, 12)}\n`);
  });

  it('import reads a gzip tarball from standard input, with --change', () => {
    const gz = gzipSync(readFileSync(tar));
    const r = tool('run-tool', ['--root', root, 'import', '--change', 'CMD ["/bin/sh"]', '--change', 'ENV A=1', '-', 'docker.io/me/bb:v1'], { input: gz });
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).not.toBe(id); // different config (Cmd/Env), same layer
    const cfg = JSON.parse(execFileSync('skopeo', ['inspect', '--config', `oci:${root}/images:docker.io/me/bb:v1`], { encoding: 'utf8' })) as { config: { Cmd: string[]; Env: string[] } };
    expect(cfg.config.Cmd).toEqual(['/bin/sh']);
    expect(cfg.config.Env).toEqual(['A=1']);
  });

  it('a corrupt tarball fails with one line, exit 125, and leaves no tag or blob behind', async () => {
    const bad = join(dir, 'bad.tar.gz');
    writeFileSync(bad, Buffer.concat([gzipSync(readFileSync(tar)).subarray(0, 50_000)]));
    const blobsBefore = readdirSync(join(root, 'images/blobs/sha256')).sort();
    const r = tool('run-tool', ['--root', root, 'import', bad, 'broken']);
    expect(r.stderr).toMatch(/^Error: /);
    expect(r.status).toBe(125);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^Error: /);
    expect(tool('run-tool', ['--root', root, 'images', '--format', '{{.Repository}}']).stdout).not.toContain('broken');
    expect(readdirSync(join(root, 'images/blobs/sha256')).sort()).toEqual(blobsBefore);
  });

  it('an invalid name is refused before anything is written', () => {
    const r = tool('run-tool', ['--root', root, 'import', tar, 'Bad/Name']);
    expect(r.status).toBe(125);
    expect(r.stderr).toMatch(/^Error: invalid image reference "Bad\/Name"/);
  });
});
