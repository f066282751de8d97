import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Readable } from 'node:stream';
import { mkdir, writeFile, symlink, readFile, readlink, lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DigestingStream, digestOf } from '../../../shared/oci/digest.ts';
import { formatReference, parseReference } from '../../../shared/ref/reference.ts';
import { packTree } from '../../../shared/layer/tar-write.ts';
import { applyLayer } from '../../../shared/layer/apply.ts';
import { scratchDir } from '../../helpers/tmp.ts';

async function drain(s: Readable): Promise<void> {
  for await (const _ of s);
}

describe('properties', () => {
  it('a streamed digest equals the digest of the whole, however the bytes are chunked', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }), async (chunks) => {
        const whole = Buffer.concat(chunks);
        const d = new DigestingStream({ digest: digestOf(whole), size: whole.length });
        await drain(Readable.from(chunks.map((c) => Buffer.from(c))).pipe(d));
        expect(d.result).toBe(digestOf(whole));
      }),
      { numRuns: 200 },
    );
  });

  it('a streamed digest rejects any single-byte change', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 500 }), fc.nat(), fc.integer({ min: 1, max: 255 }), async (bytes, at, flip) => {
        const changed = Buffer.from(bytes);
        const i = at % changed.length;
        changed[i] = changed[i]! ^ flip;
        const d = new DigestingStream({ digest: digestOf(bytes), size: bytes.length });
        await expect(drain(Readable.from([changed]).pipe(d))).rejects.toMatchObject({ code: 'EINTEGRITY' });
      }),
      { numRuns: 100 },
    );
  });

  const component = fc.stringMatching(/^[a-z0-9]+(?:[._-][a-z0-9]+)?$/).filter((s) => s.length <= 20);
  const reference = fc.record({
    registry: fc.option(fc.constantFrom('localhost', 'localhost:5000', 'registry.example:443', '127.0.0.1:5000'), { nil: undefined }),
    path: fc.array(component, { minLength: 1, maxLength: 3 }).map((p) => p.join('/')),
    tag: fc.option(fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}$/), { nil: undefined }),
  });

  it('formatting a parsed reference gives back the same string', () => {
    fc.assert(
      fc.property(reference, (r) => {
        const s = formatReference(r);
        expect(formatReference(parseReference(s))).toBe(s);
      }),
      { numRuns: 300 },
    );
  });

  // A random tree of files, directories and symlinks survives pack → apply unchanged.
  type Node = { kind: 'file'; data: string; mode: number } | { kind: 'link'; target: string } | { kind: 'dir'; children: Record<string, Node> };
  const name = fc.stringMatching(/^[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,12}$/).filter((n) => !n.startsWith('.wh.'));
  const leaf: fc.Arbitrary<Node> = fc.oneof(
    fc.record({ kind: fc.constant('file' as const), data: fc.string({ maxLength: 200 }), mode: fc.constantFrom(0o644, 0o600, 0o755, 0o400) }),
    fc.record({ kind: fc.constant('link' as const), target: fc.constantFrom('/etc/hostname', '../x', 'sub/y', '/') }),
  );
  const tree = fc.letrec<{ node: Node; dir: Node }>((tie) => ({
    node: fc.oneof({ depthSize: 'small' }, leaf, tie('dir')),
    dir: fc.record({ kind: fc.constant('dir' as const), children: fc.dictionary(name, tie('node'), { maxKeys: 5 }) }),
  })).dir;

  async function build(dir: string, n: Node): Promise<void> {
    if (n.kind !== 'dir') return;
    for (const [k, c] of Object.entries(n.children)) {
      const p = join(dir, k);
      if (c.kind === 'file') await writeFile(p, c.data, { mode: c.mode });
      else if (c.kind === 'link') await symlink(c.target, p);
      else {
        await mkdir(p, { mode: 0o755 });
        await build(p, c);
      }
    }
  }
  async function describeTree(dir: string): Promise<string[]> {
    const out: string[] = [];
    for (const n of (await readdir(dir)).sort()) {
      const p = join(dir, n);
      const st = await lstat(p);
      if (st.isSymbolicLink()) out.push(`${n} -> ${await readlink(p)}`);
      else if (st.isDirectory()) out.push(`${n}/ ${(st.mode & 0o7777).toString(8)}`, ...(await describeTree(p)).map((x) => `${n}/${x}`));
      else out.push(`${n} ${(st.mode & 0o7777).toString(8)} ${JSON.stringify(await readFile(p, 'utf8'))}`);
    }
    return out;
  }

  it('pack then apply reproduces any tree of files, directories and symlinks', async () => {
    const { dir, cleanup } = await scratchDir();
    let i = 0;
    try {
      await fc.assert(
        fc.asyncProperty(tree, async (t) => {
          const src = join(dir, `src${i}`);
          const dst = join(dir, `dst${i++}`);
          await mkdir(src);
          await mkdir(dst, { mode: 0o700 });
          await build(src, t);
          await applyLayer(dst, packTree(src, { xattrs: false }));
          expect(await describeTree(dst)).toEqual(await describeTree(src));
        }),
        { numRuns: 40 },
      );
    } finally {
      await cleanup();
    }
  });
});
