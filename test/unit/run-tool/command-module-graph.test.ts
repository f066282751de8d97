// What a command loads at start-up is the closure of its module's static value imports (dynamic `import()` and
// `import type` load nothing up front). Container commands that only stop or remove must not load the machinery
// they never call: the layer unpacker, the networking library, the start path (conmon, mounts, networks).
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const repo = resolve(import.meta.dirname, '../../..');

/** The repository files `file` (relative) loads before its body runs, itself included. */
function staticClosure(file: string): Set<string> {
  const seen = new Set<string>();
  const todo = [file];
  while (todo.length > 0) {
    const f = todo.pop()!;
    if (seen.has(f)) continue;
    seen.add(f);
    const src = readFileSync(join(repo, f), 'utf8');
    for (const m of src.matchAll(/^(?:import|export)\s+(?!type\s)(?:[^'";]*?\sfrom\s+)?['"](\.[^'"]+)['"]/gms)) {
      // a mixed `import { a, type B }` still loads; only `import type …` is left out above
      todo.push(relative(repo, resolve(dirname(join(repo, f)), m[1]!)));
    }
  }
  return seen;
}

describe('start-up module graph of the container commands', () => {
  it('the checker follows static imports (it can fail)', () => {
    expect(staticClosure('run-tool/commands/run.ts')).toContain('run-tool/containers/start-container.ts');
  });

  for (const cmd of ['stop', 'rm']) {
    it(`${cmd} loads neither the layer unpacker, nor the networking library, nor the start path`, () => {
      const loaded = staticClosure(`run-tool/commands/${cmd}.ts`);
      for (const heavy of ['shared/layer/unpack-cache.ts', 'shared/layer/compression.ts', 'shared/network/attach.ts', 'shared/network/network-config.ts', 'run-tool/containers/start-container.ts', 'run-tool/containers/volumes.ts']) {
        expect(loaded, heavy).not.toContain(heavy);
      }
    });
  }

  it('run (and create) load the networking library only for a container that has a network', () => {
    for (const cmd of ['run', 'create']) {
      const loaded = staticClosure(`run-tool/commands/${cmd}.ts`);
      expect(loaded).not.toContain('shared/network/attach.ts');
      expect(loaded).not.toContain('shared/network/pasta.ts');
    }
  });

  it('the pod commands load no tar writer or importer (the infra image is built once, then found by name)', () => {
    const loaded = staticClosure('run-tool/commands/pod/index.ts');
    expect(loaded).not.toContain('shared/layer/tar-write.ts');
    expect(loaded).not.toContain('shared/transport/tarball.ts');
  });
});
