import { spawnSync } from 'node:child_process';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isRoot, scratchDir } from '../../helpers/tmp.ts';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

describe.skipIf(!isRoot)('scripts/ensure-system-deps.sh decides by package, not by a program of the same name', () => {
  let s: { dir: string; cleanup: () => Promise<void> };
  beforeEach(async () => {
    s = await scratchDir('skiff-deps-');
  });
  afterEach(async () => s.cleanup());

  it('python3 on PATH does not stand in for python3-kubernetes: the package dpkg lacks is the one installed', async () => {
    const bin = join(s.dir, 'bin');
    const calls = join(s.dir, 'apt-calls');
    await import('node:fs/promises').then((fs) => fs.mkdir(bin));
    // dpkg knows every package but python3-kubernetes; apt-get records what it is asked for
    await writeFile(join(bin, 'dpkg-query'), '#!/bin/sh\nfor a; do p=$a; done\n[ "$p" = python3-kubernetes ] && { printf "unknown ok not-installed"; exit 1; }\nprintf "install ok installed"\n');
    await writeFile(join(bin, 'apt-get'), `#!/bin/sh\necho "$@" >> ${calls}\n`);
    await chmod(join(bin, 'dpkg-query'), 0o755);
    await chmod(join(bin, 'apt-get'), 0o755);
    const r = spawnSync('bash', [join(repo, 'scripts', 'ensure-system-deps.sh'), 'test'], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, CI: 'true' }, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('installing system packages: python3-kubernetes');
    const asked = await readFile(calls, 'utf8');
    expect(asked).toMatch(/install -y -qq python3-kubernetes\n/);
  });
});
