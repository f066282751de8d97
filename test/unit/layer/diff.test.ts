import { execFileSync } from 'node:child_process';
import { link, lstat, mkdir, readFile, readdir, readlink, symlink, writeFile, rm, chmod } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyLayer } from '../../../shared/layer/apply.ts';
import { diffTrees, diffUpper } from '../../../shared/layer/diff.ts';
import { readTar, type TarHeader } from '../../../shared/layer/tar-read.ts';
import { setXattr } from '../../../shared/layer/xattr.ts';
import { isRoot, scratchDir } from '../../helpers/tmp.ts';
import { collect, snapshot } from './helpers.ts';

let base: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir: base, cleanup } = await scratchDir('skiff-diff-'));
});
afterEach(() => cleanup());

async function entriesOf(tarBytes: Buffer): Promise<{ h: TarHeader; body: string }[]> {
  const out: { h: TarHeader; body: string }[] = [];
  for await (const { header, body } of readTar(Readable.from([tarBytes]))) out.push({ h: header, body: (await collect(body)).toString() });
  return out;
}

async function makeSocket(path: string): Promise<() => Promise<void>> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(path, r));
  return () => new Promise<void>((r) => srv.close(() => r()));
}

describe.skipIf(!isRoot)('diff of an overlay upper dir', () => {
  it('LA-20 never dereferences: links archived as links, socket skipped, whiteouts emitted', async () => {
    const upper = join(base, 'upper');
    await mkdir(join(upper, 'app'), { recursive: true });
    await symlink('/etc/hostname', join(upper, 'leak'));
    await symlink('../../../outside', join(upper, 'rel'));
    await writeFile(join(upper, 'app/data'), 'data');
    await link(join(upper, 'app/data'), join(upper, 'app/data-link'));
    execFileSync('mknod', [join(upper, 'fifo'), 'p']);
    execFileSync('mknod', [join(upper, 'deleted'), 'c', '0', '0']);
    await mkdir(join(upper, 'opq'));
    await setXattr(join(upper, 'opq'), 'trusted.overlay.opaque', Buffer.from('y'));
    await writeFile(join(upper, 'opq/new'), 'n');
    const close = await makeSocket(join(upper, 'sock'));
    const warnings: string[] = [];
    try {
      const bytes = await collect(diffUpper(upper, { onWarning: (w) => warnings.push(w) }));
      const es = await entriesOf(bytes);
      const byName = new Map(es.map((e) => [e.h.name, e]));
      expect(byName.get('leak')?.h).toMatchObject({ type: 'symlink', linkname: '/etc/hostname', size: 0 });
      expect(byName.get('rel')?.h).toMatchObject({ type: 'symlink', linkname: '../../../outside' });
      expect(bytes.includes(await readFile('/etc/hostname'))).toBe(false); // no host bytes
      expect(byName.get('app/data-link')?.h).toMatchObject({ type: 'link', linkname: 'app/data' });
      expect(byName.get('fifo')?.h.type).toBe('fifo');
      expect(byName.has('sock')).toBe(false);
      expect(warnings.join()).toMatch(/socket sock/);
      expect(byName.get('.wh.deleted')?.h).toMatchObject({ type: 'file', size: 0 });
      expect(byName.has('deleted')).toBe(false);
      expect(byName.has('opq/.wh..wh..opq')).toBe(true);
      expect(es.map((e) => e.h.name).indexOf('opq/')).toBeLessThan(es.map((e) => e.h.name).indexOf('opq/.wh..wh..opq'));
      // the overlay xattr itself is not archived
      expect(byName.get('opq/')?.h.xattrs.size).toBe(0);
      // applied onto a lower rootfs it does what overlayfs showed
      const R = join(base, 'R');
      await mkdir(join(R, 'opq'), { recursive: true, mode: 0o700 });
      await chmod(R, 0o700);
      await writeFile(join(R, 'deleted'), 'old');
      await writeFile(join(R, 'opq/old'), 'old');
      await applyLayer(R, Readable.from([bytes]));
      expect(await readdir(join(R, 'opq'))).toEqual(['new']);
      expect(await lstat(join(R, 'deleted')).catch(() => undefined)).toBeUndefined();
      expect(await readlink(join(R, 'leak'))).toBe('/etc/hostname');
    } finally {
      await close();
    }
  });
});

describe('diff of two trees', () => {
  it('LA-20 emits changes, whiteouts for deletions and parents of changes, and never dereferences', async () => {
    const lower = join(base, 'lower');
    const upper = join(base, 'new');
    for (const d of [lower, upper]) {
      await mkdir(join(d, 'etc/sub'), { recursive: true });
      await mkdir(join(d, 'same'), { recursive: true });
      await writeFile(join(d, 'etc/keep'), 'k');
      await writeFile(join(d, 'same/f'), 'same');
    }
    execFileSync('cp', ['-a', '--', join(lower, 'etc/keep'), join(upper, 'etc/keep')]);
    execFileSync('cp', ['-a', '--', join(lower, 'same/f'), join(upper, 'same/f')]);
    execFileSync('touch', ['-r', join(lower, 'same'), join(upper, 'same')]);
    await writeFile(join(lower, 'etc/gone'), 'g');
    await mkdir(join(lower, 'olddir/inner'), { recursive: true });
    await writeFile(join(upper, 'etc/sub/added'), 'a');
    await symlink('/etc/hostname', join(upper, 'leak'));
    await symlink('../../../outside', join(upper, 'rel'));
    const close = await makeSocket(join(upper, 'sock'));
    try {
      const bytes = await collect(diffTrees(lower, upper, { mtime: new Date(0) }));
      const names = (await entriesOf(bytes)).map((e) => `${e.h.name}${e.h.type === 'symlink' ? ' -> ' + e.h.linkname : ''}`);
      // whiteouts sort at the place of the name they delete
      expect(names).toEqual(['etc/', 'etc/.wh.gone', 'etc/sub/', 'etc/sub/added', 'leak -> /etc/hostname', '.wh.olddir', 'rel -> ../../../outside']);
      // deterministic
      expect((await collect(diffTrees(lower, upper, { mtime: new Date(0) }))).equals(bytes)).toBe(true);
      // lower + diff == new
      const R = join(base, 'R');
      await mkdir(R, { mode: 0o700 });
      execFileSync('cp', ['-a', '--', `${lower}/.`, R]);
      await applyLayer(R, Readable.from([bytes]));
      await rm(join(upper, 'sock'));
      const a = (await snapshot(upper)).split('\n').slice(1).map((l) => l.split(' ').slice(0, 3).join(' '));
      const b = (await snapshot(R)).split('\n').slice(1).map((l) => l.split(' ').slice(0, 3).join(' '));
      expect(b).toEqual(a);
    } finally {
      await close().catch(() => {});
    }
  });
});
