// `build-tool build` as a hot command (issue 19): a fully cached rebuild loads only the code it calls — the
// context check, the Dockerfile, the cache lookups and the image compare — never layer apply, tar writing, the RUN
// step or network code, which are imported where a step misses. Layers keep every xattr they must carry
// (security.capability included) with the batched getfattr/setfattr runs.
import { execFileSync, spawnSync } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasBusybox } from '../../helpers/busybox.ts';
import { hasPrograms, isRoot } from '../../helpers/tmp.ts';
import { makeWorld, type World } from './harness.ts';
import { openStore } from '../../../shared/store/store.ts';

const repo = resolve(import.meta.dirname, '../../..');
const bin = join(repo, 'bin/build-tool.mjs');

describe.skipIf(!isRoot || !hasBusybox)('build-tool build, hot', () => {
  let w: World;
  beforeAll(async () => {
    w = await makeWorld();
  });
  afterAll(async () => w?.cleanup());

  const build = (args: string[], pre: string[] = []) =>
    spawnSync(process.execPath, [...pre, bin, '--root', w.root, 'build', '--network', 'host', '-q', ...args, w.ctx], { encoding: 'utf8' });

  it('a fully cached rebuild loads no layer apply, tar, RUN, runc spawning or network code (module list of the loaded bundle files)', async () => {
    await w.files({ 'src/a': 'a', 'src/b': 'b' });
    await writeFile(join(w.ctx, 'Dockerfile'), 'FROM localhost/busybox AS b\nCOPY src/ /src/\nRUN cat /src/a > /first\nFROM localhost/busybox\nCOPY --from=b /first /app/first\nWORKDIR /app\nRUN ls /app > /app/listing\n');
    const first = build(['-t', 'hot']);
    expect(first.status, first.stderr).toBe(0);
    const r = build(['-t', 'hot'], ['--import', join(repo, 'test/helpers/log-loads.mjs')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(first.stdout); // the same image ID
    const files = r.stderr.split('\n').filter((l) => l.startsWith('LOADED ')).map((l) => fileURLToPath(l.slice(7))).filter((f) => f.includes('/dist/'));
    expect(files.length).toBeGreaterThan(1); // the hook saw the bundle (it can fail)
    expect(files.filter((f) => !f.includes('/dist/hot/build-tool-build/')).map((f) => f.replace(repo, ''))).toEqual([]);
    // the bundles are not minified: each module's code starts with a `// <source path>` line
    const modules = new Set(files.flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/^\/\/ ((?:shared|build-tool|node_modules)\/\S+)$/gm)].map((m) => m[1]!)));
    expect(modules.has('shared/build/executor/build.ts')).toBe(true);
    expect(modules.has('shared/build/executor/run-key.ts')).toBe(true);
    const unwanted = /^(shared\/layer\/(apply|tar-write|tar-read|compression|diff|unpack-cache|overlay-mount|confined-root)\.ts|shared\/build\/executor\/(run-step|working-root|root-writer|layers|archive|url)\.ts|shared\/runtime\/(build-spec|bundle|seccomp|oci-runtime)\.ts|shared\/network\/(attach|pasta|pasta-hook)\.ts|shared\/registry\/|shared\/transport\/|node_modules\/(tar-stream|streamx|undici|openpgp)\/)/;
    expect([...modules].filter((m) => unwanted.test(m))).toEqual([]);
    // the bin executed directly (its start-up snapshot when `npm run build` made one) answers the same
    const direct = spawnSync(bin, ['--root', w.root, 'build', '--network', 'host', '-q', '-t', 'hot', w.ctx], { encoding: 'utf8', env: { ...process.env, PATH: `${resolve(process.execPath, '..')}:${process.env.PATH}` } });
    expect(direct.status, direct.stderr).toBe(0);
    expect(direct.stdout).toBe(first.stdout);
  });

  it('a fully cached rebuild reads the store index and the base image once, however many FROM lines and RUN platform checks name it', async () => {
    await w.files({ 'src/a': 'a' });
    // two stages FROM the same image, three RUN steps (each checked for a runnable platform before the build)
    await writeFile(join(w.ctx, 'Dockerfile'), 'FROM localhost/busybox AS b\nCOPY src/ /src/\nRUN cat /src/a > /first\nRUN cp /first /second\nFROM localhost/busybox\nCOPY --from=b /second /app/second\nRUN ls /app > /app/listing\n');
    const first = build(['-t', 'reads']);
    expect(first.status, first.stderr).toBe(0);
    const r = build(['-t', 'reads'], ['--import', join(repo, 'test/helpers/log-opens.mjs')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(first.stdout);
    const opened = r.stderr.split('\n').filter((l) => l.startsWith('OPENED ')).map((l) => l.slice(7));
    const { manifest } = await w.image('busybox');
    const cfg = manifest.config.digest.slice('sha256:'.length);
    // the base image's config: read once (it was read by each FROM and by each RUN's platform check)
    expect(opened.filter((f) => f.endsWith(`/blobs/sha256/${cfg}`)).length).toBe(1);
    // index.json: the store's open, the one base image lookup and the tag check at the end
    const indexReads = opened.filter((f) => f.endsWith('/images/index.json')).length;
    expect(indexReads).toBeGreaterThan(0); // the hook saw the store's reads (it can fail)
    expect(indexReads).toBeLessThanOrEqual(3);
  });

  it.skipIf(!hasPrograms('setcap', 'getcap', 'setfattr', 'tar'))('security.capability and user xattrs stay in an ADD layer and in the RUN layer that copies the file up', async () => {
    const src = join(w.dir, 'caps-src');
    await mkdir(src, { recursive: true });
    await writeFile(join(src, 'capfile'), 'x');
    execFileSync('setcap', ['cap_net_raw+ep', join(src, 'capfile')]);
    execFileSync('setfattr', ['-n', 'user.skiff', '-v', 'kept', join(src, 'capfile')]);
    execFileSync('tar', ['--xattrs', '--xattrs-include=*', '--numeric-owner', '-C', src, '-cf', join(w.ctx, 'caps.tar'), 'capfile']);
    // the RUN's chmod copies the file up into the step's upper dir, with its xattrs
    await writeFile(join(w.ctx, 'Dockerfile'), 'FROM localhost/busybox\nADD caps.tar /opt/\nRUN chmod 0750 /opt/capfile && mkdir -p /made\n');
    const r = build(['-t', 'caps']);
    expect(r.status, r.stderr).toBe(0);
    const { manifest } = await w.image('caps');
    const store = await openStore(w.root);
    const seen: string[] = [];
    try {
      for (const [i, l] of manifest.layers.slice(-2).entries()) {
        const out = join(w.dir, `caps-layer-${i}`);
        await mkdir(out, { recursive: true });
        await pipeline(await store.blobs.open(l), createWriteStream(`${out}.tgz`));
        execFileSync('tar', ['--xattrs', '--xattrs-include=*', '-xzf', `${out}.tgz`, '-C', out]);
        seen.push(`${execFileSync('getcap', [join(out, 'opt/capfile')], { encoding: 'utf8' }).includes('cap_net_raw') ? 'cap' : 'no cap'} ${execFileSync('getfattr', ['--absolute-names', '--only-values', '-n', 'user.skiff', join(out, 'opt/capfile')], { encoding: 'utf8' })}`);
      }
    } finally {
      await store.close();
    }
    expect(seen).toEqual(['cap kept', 'cap kept']);
  });
});
