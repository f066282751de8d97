// run/create --pull always|missing|never|newer against a real registry (Debian's docker-registry on 127.0.0.1).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../../shared/store/store.ts';
import { importTarball } from '../../../shared/transport/tarball.ts';
import { busyboxTarball, hasBusybox, makeBusyboxImage } from '../../helpers/busybox.ts';
import { REGISTRY_BIN, startRegistry, type TestRegistry } from '../../helpers/registry.ts';
import { isRoot, scratchDir } from '../../helpers/tmp.ts';
import { hasConmon, rtSync } from './integration-helpers.ts';

describe.skipIf(!isRoot || !existsSync(REGISTRY_BIN) || !hasBusybox || !hasConmon)('run-tool run/create --pull', () => {
  let s: { dir: string; cleanup: () => Promise<void> };
  let reg: TestRegistry;
  let root = '';
  let src = '';
  let img = '';
  const env = { ...process.env, REGISTRY_AUTH_FILE: '', CONTAINERS_REGISTRIES_CONF: '' };
  const rt = (args: string[]) => rtSync(root, args, { env });
  const push = (name: string, tag: string) => {
    const c = spawnSync('skopeo', ['copy', '--dest-tls-verify=false', `oci:${src}/images:${name}`, `docker://${reg.host}/lib/bb:${tag}`], { encoding: 'utf8' });
    expect(c.status, c.stderr).toBe(0);
  };

  beforeAll(async () => {
    s = await scratchDir('skiff-int-pull-');
    reg = await startRegistry();
    src = join(s.dir, 'src');
    root = join(s.dir, 'root');
    await makeBusyboxImage(src, s.dir);
    const store = await openStore(src);
    try {
      await importTarball(store, busyboxTarball(s.dir), { name: 'localhost/bb2:latest', config: { Cmd: ['echo', 'second'] }, created: new Date('2026-02-01T00:00:00Z') });
    } finally {
      await store.close();
    }
    push('localhost/busybox:latest', '1');
    img = `${reg.host}/lib/bb:1`;
  }, 120_000);

  afterAll(async () => {
    if (root) rt(['rm', '-a', '-f']);
    await reg?.stop();
    await s?.cleanup();
  });

  it('never fails for a missing image; missing pulls once; always pulls again', () => {
    const never = rt(['run', '--rm', '--network', 'none', '--pull', 'never', img, 'true']);
    expect(never.status).toBe(125);
    expect(never.stderr).toMatch(/image not known/);
    const first = rt(['run', '--rm', '--network', 'none', '--pull', 'missing', '--tls-verify=false', img, 'echo', 'hi']);
    expect(first.stdout).toBe('hi\n');
    expect(first.status).toBe(0);
    expect(first.stderr).toMatch(/Trying to pull .*lib\/bb:1/);
    expect(first.stderr).toMatch(/Copying blob sha256:/);
    const again = rt(['run', '--rm', '--network', 'none', img, 'echo', 'hi']); // default: missing
    expect(again.stderr).toBe('');
    expect(again.stdout).toBe('hi\n');
    expect(rt(['run', '--rm', '--network', 'none', '--pull', 'never', img, 'true']).status).toBe(0);
    const always = rt(['create', '--network', 'none', '--pull', 'always', '--tls-verify=false', img, 'true']);
    expect(always.status).toBe(0);
    expect(always.stderr).toMatch(/Trying to pull/);
    expect(always.stderr).toMatch(/Writing manifest to image destination/);
    expect(rt(['rm', always.stdout.trim()]).status).toBe(0);
    // a TLS pull from the plain-HTTP registry fails with 125
    const tls = rt(['run', '--rm', '--network', 'none', '--pull', 'always', img, 'true']);
    expect(tls.status).toBe(125);
    expect(rt(['run', '--rm', '--pull', 'sometimes', img, 'true']).status).toBe(125);
  });

  it('newer pulls a changed tag, and falls back to the stored image when the registry is gone', async () => {
    const before = JSON.parse(rt(['inspect', '--type', 'image', img]).stdout)[0].Id as string;
    push('localhost/bb2:latest', '1');
    const r = rt(['run', '--rm', '--network', 'none', '--pull', 'newer', '--tls-verify=false', img]);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('second\n');
    const after = JSON.parse(rt(['inspect', '--type', 'image', img]).stdout)[0].Id as string;
    expect(after).not.toBe(before);
    await reg.stop();
    const off = rt(['run', '--rm', '--network', 'none', '--pull', 'newer', '--tls-verify=false', img]);
    expect(off.status).toBe(0);
    expect(off.stdout).toBe('second\n');
    expect(off.stderr).toMatch(/WARNING: cannot check .* for a newer image, using the stored one/);
  });
});
