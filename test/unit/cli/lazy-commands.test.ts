import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { commandNameOf, registerCommands, type CommandModule } from '../../../shared/cli/lazy-commands.ts';

const repo = resolve(import.meta.dirname, '../../..');

describe('commandNameOf', () => {
  it('skips global options and the values of those that take one', () => {
    expect(commandNameOf(['--root', '/x', 'run', 'img'])).toBe('run');
    expect(commandNameOf(['--root=/x', 'ps'])).toBe('ps');
    expect(commandNameOf(['--debug', '--policy', 'p.json', 'copy', 'a', 'b'], new Set(['--policy']))).toBe('copy');
    expect(commandNameOf(['--help'])).toBeUndefined();
    expect(commandNameOf([])).toBeUndefined();
  });
});

describe('registerCommands', () => {
  function modules(loaded: string[]): CommandModule[] {
    const mod = (name: string): CommandModule => ({
      names: [name, `${name}-alias`],
      load: async () => {
        loaded.push(name);
        return (p) => void p.command(name);
      },
    });
    return [mod('a'), mod('b'), mod('c')];
  }

  it('loads only the module of the named command, found by any of its names', async () => {
    const loaded: string[] = [];
    const p = new Command().option('--root <dir>');
    await registerCommands(p, modules(loaded), ['--root', 'a', 'b-alias', 'x']);
    expect(loaded).toEqual(['b']);
    expect(p.commands.map((c) => c.name())).toEqual(['b']);
  });

  it('loads every module that adds to a shared command group (generate kube, generate systemd), in order', async () => {
    const loaded: string[] = [];
    const shared = (name: string, sub: string): CommandModule => ({
      names: ['generate', name],
      load: async () => {
        loaded.push(name);
        return (p) => void (p.commands.find((c) => c.name() === 'generate') ?? p.command('generate')).command(sub);
      },
    });
    const p = new Command();
    await registerCommands(p, [shared('kube', 'kube'), ...modules([]), shared('systemd', 'systemd')], ['generate', 'systemd', 'x']);
    expect(loaded).toEqual(['kube', 'systemd']);
    expect(p.commands.find((c) => c.name() === 'generate')?.commands.map((c) => c.name())).toEqual(['kube', 'systemd']);
  });

  it('loads every module, in order, for help or an unknown command; none for a bare --version', async () => {
    for (const args of [['--help'], ['help', 'a'], ['nosuch'], []]) {
      const loaded: string[] = [];
      const p = new Command();
      await registerCommands(p, modules(loaded), args);
      // then the shell commands, which read the table of everything loaded
      expect(p.commands.map((c) => c.name())).toEqual(['a', 'b', 'c', 'completion', 'generate-man-pages']);
    }
    const loaded: string[] = [];
    await registerCommands(new Command(), modules(loaded), ['--version']);
    expect(loaded).toEqual([]);
  });
});

describe('start-up of one command', () => {
  function loadedFiles(tool: string, command: string): string[] {
    const r = spawnSync(process.execPath, ['--import', resolve(repo, 'test/helpers/log-loads.mjs'), resolve(repo, `bin/${tool}.mjs`), command, '--help'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    const files = r.stderr.split('\n').filter((l) => l.startsWith('LOADED ')).map((l) => fileURLToPath(l.slice(7)));
    expect(files.some((f) => f.includes('/dist/'))).toBe(true); // the hook saw the bundle's files (it can fail)
    return files;
  }
  const carrying = (files: string[], re: RegExp) => files.filter((f) => re.test(readFileSync(f, 'utf8'))).map((f) => f.replace(repo, ''));

  it('run-tool run loads no registry client, transport, signing or tar code before it needs them', () => {
    expect(carrying(loadedFiles('run-tool', 'run'), /\/\/ (shared\/(registry|transport|signature)\/|shared\/layer\/tar-read|node_modules\/tar-stream\/)/m)).toEqual([]);
  });

  it('copy-tool copy loads no signing, archive, tar, YAML or other transport code before a copy needs it', () => {
    const files = loadedFiles('copy-tool', 'copy');
    expect(carrying(files, /\/\/ (shared\/signature\/(sigstore|simple-signing|copy-signer|policy-evaluate|lookaside)\.ts|shared\/transport\/(docker|dir|store|oci-archive|docker-archive|oci-layout)\.ts|shared\/layer\/tar-|node_modules\/(tar-stream|tweetnacl|yaml|openpgp|undici)\/)/m)).toEqual([]);
  });

  it.each([
    ['run-tool', 'run'],
    ['run-tool', 'ps'],
    ['run-tool', 'rm'],
    ['copy-tool', 'copy'],
  ])('%s %s loads its own bundle: a handful of files, none of the all-commands bundle', (tool, command) => {
    const files = loadedFiles(tool, command);
    const dir = `/dist/hot/${tool}-${command}/`;
    expect(files.filter((f) => f.includes('/dist/') && !f.includes(dir)).map((f) => f.replace(repo, ''))).toEqual([]);
    // the general bundle loads 48 (copy) to 77 (run) files for the same start-up
    expect(files.filter((f) => f.includes(dir)).length).toBeLessThanOrEqual(tool === 'run-tool' && command === 'run' ? 40 : 18);
  });

  it('build-tool build loads no transport, registry client or signing code unless it pulls or pushes', () => {
    expect(carrying(loadedFiles('build-tool', 'build'), /\/\/ (shared\/(transport|signature)\/|shared\/registry\/(?!undici-lazy))/m)).toEqual([]);
  });
});
