import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandTable } from '../../shared/cli/command-table.ts';
import { bashCompletion, fishCompletion } from '../../shared/cli/completion.ts';
import { manPages } from '../../shared/cli/man-pages.ts';

const repo = resolve(import.meta.dirname, '../..');
const tool = (t: string, args: string[]) => spawnSync(process.execPath, [join(repo, 'bin', `${t}.mjs`), ...args], { encoding: 'utf8' });
let dir = '';
const hasShell = (sh: string) => spawnSync('sh', ['-c', `command -v ${sh}`]).status === 0;

/** Sources `script` in a non-interactive bash and asks the completion function about `words` (the last is being typed). */
function complete(script: string, fn: string, words: string[]): string[] {
  const file = join(dir, `${fn}.bash`);
  writeFileSync(file, script);
  const arr = words.map((w) => `'${w}'`).join(' ');
  const r = spawnSync('bash', ['--norc', '--noprofile', '-c', `source ${file}; COMP_WORDS=(${arr}); COMP_CWORD=${words.length - 1}; ${fn}; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: 'utf8', cwd: dir });
  expect(r.stderr).toBe('');
  return r.stdout.split('\n').filter((x) => x !== '').sort();
}

describe('completion and man pages from the command tables', () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'skiff-compl-'));
    writeFileSync(join(dir, 'afile.txt'), '');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('run-tool completion bash completes commands, subcommands and flags as bash sees them', () => {
    const r = tool('run-tool', ['completion', 'bash']);
    expect(r.status).toBe(0);
    const s = r.stdout;
    expect(complete(s, '_skiff_run_tool', ['run-tool', 'po'])).toEqual(['pod', 'port']);
    expect(complete(s, '_skiff_run_tool', ['run-tool', '--root', '/tmp/x', 'pod', 'cr'])).toEqual(['create']);
    expect(complete(s, '_skiff_run_tool', ['run-tool', 'run', '--na'])).toEqual(['--name']);
    expect(complete(s, '_skiff_run_tool', ['run-tool', 'run', '--ro'])).toEqual(['--root']);
    // an option's value: files, not commands
    expect(complete(s, '_skiff_run_tool', ['run-tool', 'run', '--env-file', 'af'])).toEqual(['afile.txt']);
    // after the image, arguments are files again
    expect(complete(s, '_skiff_run_tool', ['run-tool', 'network', 'ls', 'x'])).toEqual([]);
    expect(complete(s, '_skiff_run_tool', ['run-tool', 'comp'])).toEqual(['completion']);
  });

  it.skipIf(!hasShell('zsh'))('run-tool completion zsh loads in zsh without error, registers its function with compdef and completes commands and flags', () => {
    const file = join(dir, 'run-tool.zsh');
    writeFileSync(file, tool('run-tool', ['completion', 'zsh']).stdout);
    // zsh's bashcompinit runs the function in sh emulation and hands COMPREPLY to compadd, which filters by the
    // word typed: the same here, the filter done by the test
    const ask = (words: string[]) => `t ${words.map((w) => `'${w}'`).join(' ')}`;
    const r = spawnSync('zsh', ['-f', '-c', [
      'autoload -U compinit; compinit -u', `source ${file}`, 'print -r -- "comps=${_comps[run-tool]}"',
      't() { emulate -L sh; setopt kshglob noshglob braceexpand; COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMPREPLY=(); _skiff_run_tool; print -r -- "${COMPREPLY[@]}"; }',
      ask(['run-tool', 'pu']), ask(['run-tool', 'run', '--na']), ask(['run-tool', '--root', '/tmp/x', 'pod', 'cr']), ask(['run-tool', 'attach', '--no-']),
    ].join('\n')], { encoding: 'utf8', cwd: dir });
    expect(r.stderr).toBe('');
    const [comps, ...answers] = r.stdout.trim().split('\n');
    expect(comps).toBe('comps=_bash_complete -o default -F _skiff_run_tool');
    const typed = ['pu', '--na', 'cr', '--no-'];
    expect(answers.map((a, i) => a.split(' ').filter((w) => w.startsWith(typed[i]!)).sort())).toEqual([['pull', 'push'], ['--name'], ['create'], ['--no-stdin']]);
  });

  it.skipIf(!hasShell('fish'))('run-tool completion fish loads in fish without error and completes commands and flags', () => {
    const file = join(dir, 'run-tool.fish');
    writeFileSync(file, tool('run-tool', ['completion', 'fish']).stdout);
    const ask = (line: string): string[] => {
      const r = spawnSync('fish', ['--no-config', '-c', `source ${file}; complete -C '${line}'`], { encoding: 'utf8', cwd: dir });
      expect(r.stderr).toBe('');
      return r.stdout.split('\n').filter(Boolean).map((l) => l.split('\t')[0]!).sort();
    };
    expect(ask('run-tool pu')).toEqual(['pull', 'push']);
    expect(ask('run-tool run --na')).toEqual(['--name']);
    expect(ask('run-tool pod cr')).toEqual(['create']);
    expect(ask('run-tool attach --no-')).toEqual(['--no-stdin']);
    // a command's flags are not offered before it is typed, nor under another command of the same name
    expect(ask('run-tool --no-')).toEqual([]);
    expect(ask('run-tool --root /tmp/x pod create --name x --sha')).toEqual(['--share', '--share-parent']);
    expect(ask('run-tool create --sha')).toEqual([]);
    expect(ask('run-tool ps --ctr-n')).toEqual([]);
    expect(ask('run-tool pod ps --ctr-n')).toEqual(['--ctr-names']);
    expect(ask('run-tool --ro')).toEqual(['--root']);
  });

  it('copy-tool and build-tool scripts complete their own tables', () => {
    const c = tool('copy-tool', ['completion', 'bash']).stdout;
    expect(complete(c, '_skiff_copy_tool', ['copy-tool', 'cop'])).toEqual(['copy']);
    expect(complete(c, '_skiff_copy_tool', ['copy-tool', 'copy', '--all', '--dest-c'])).toContain('--dest-creds');
    const b = tool('build-tool', ['completion', 'bash']).stdout;
    expect(complete(b, '_skiff_build_tool', ['build-tool', 'build', '--fil'])).toContain('--file');
  });

  it('zsh and fish scripts are generated; an unknown shell is one line and exit 125', () => {
    expect(tool('run-tool', ['completion', 'zsh']).stdout).toMatch(/^#compdef run-tool\n[^]*bashcompinit[^]*complete -o default -F _skiff_run_tool run-tool/);
    const fish = tool('build-tool', ['completion', 'fish']);
    expect(fish.stdout).toContain("complete -c build-tool -n '_skiff_build_tool_at '\\'''\\''' -a 'build'");
    expect(fish.stdout).toMatch(/complete -c build-tool -n '_skiff_build_tool_at '\\''build'\\''' -s 'f' -l 'file' -r -F/);
    const bad = tool('copy-tool', ['completion', 'tcsh']);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toContain('unknown shell "tcsh"');
  });

  it('a command added to a program later is in its completion and man pages without other edits', () => {
    const p = new Command('demo-tool').option('--root <dir>', 'store root');
    p.command('alpha').description('first').option('-q, --quiet', 'quiet');
    const table = () => commandTable(p);
    expect(bashCompletion('demo-tool', table())).not.toContain('beta');
    const g = p.command('beta').description('second, added later');
    g.command('inner').description('nested').option('--deep <v>', 'a value');
    const t = table();
    expect(t.map((e) => e.path.join(' '))).toEqual(['', 'alpha', 'beta', 'beta inner', 'help'].filter((x) => x !== 'help'));
    expect(bashCompletion('demo-tool', t)).toContain("['_ beta inner']=' --deep '");
    expect(fishCompletion('demo-tool', t)).toContain("-n '_skiff_demo_tool_at '\\''beta'\\''' -a 'inner' -d 'nested'");
    expect([...manPages('demo-tool', '1.0', t).keys()]).toEqual(['demo-tool.1', 'demo-tool-alpha.1', 'demo-tool-beta.1', 'demo-tool-beta-inner.1']);
  });

  it('the build writes one man page per command into dist/man and man -l renders them', () => {
    const pages = readdirSync(join(repo, 'dist/man'));
    for (const t of ['run-tool', 'copy-tool', 'build-tool']) {
      const table = tool(t, ['completion', 'bash']).stdout;
      expect(pages).toContain(`${t}.1`);
      expect(table.length).toBeGreaterThan(0);
    }
    expect(pages).toContain('run-tool-pod-create.1');
    expect(pages).toContain('copy-tool-copy.1');
    expect(pages).toContain('build-tool-build.1');
    const r = spawnSync('man', ['-l', join(repo, 'dist/man/run-tool-run.1')], { encoding: 'utf8', env: { ...process.env, MANPAGER: 'cat', PAGER: 'cat', MANWIDTH: '100' } });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/RUN-TOOL-RUN\(1\)/);
    expect(r.stdout).toMatch(/NAME\s+run-tool-run - run a command in a new container/);
    expect(r.stdout).toMatch(/-e, --env <env>\s+set environment variables/);
    expect(r.stderr).toBe('');
  });
});
