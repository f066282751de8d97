// A real-world build through the built CLIs: a Debian bookworm rootfs made by debootstrap (minbase) is imported as a
// base image (`run-tool import`), `build-tool build` runs apt-get in a RUN step (network: the default, a namespace
// of its own on netavark's bridge, NAT to the archive) to install a tiny package, and `run-tool run` runs the
// installed program from the result.
// The debootstrap tarball (~30 s to make) is cached on tmpfs for later runs: /dev/shm/skiff-test-debian-bookworm.tar.
// Skipped with a message when debootstrap or the Debian mirror is unavailable; skip on purpose for quick local runs
// with SKIFF_TEST_SKIP_DEBIAN=1 (CI leaves it unset, so it runs there).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRoot, scratchDir } from '../../helpers/tmp.ts';

const repo = resolve(import.meta.dirname, '../../..');
const CACHE = '/dev/shm/skiff-test-debian-bookworm.tar';

/** The Debian mirror the machine's apt uses (deb822 `URIs:` or one-line `deb URL bookworm …`), else undefined. */
function debianMirror(): string | undefined {
  const dirs = ['/etc/apt/sources.list.d'];
  const files = dirs.flatMap((d) => (existsSync(d) ? readdirSync(d).map((f) => join(d, f)) : []));
  if (existsSync('/etc/apt/sources.list')) files.push('/etc/apt/sources.list');
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    for (const block of text.split(/\n\s*\n/)) {
      const uri = /^URIs:\s*(\S+)/m.exec(block)?.[1];
      if (uri && /^Suites:.*\bbookworm\b(?!-)/m.test(block) && !uri.includes('security')) return uri;
    }
    const line = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s/m.exec(text)?.[1];
    if (line) return line;
  }
  return undefined;
}

const skipWhy = ((): string | undefined => {
  if (process.env.SKIFF_TEST_SKIP_DEBIAN) return 'SKIFF_TEST_SKIP_DEBIAN is set';
  if (!isRoot) return 'needs root (debootstrap, runc)';
  if (spawnSync('sh', ['-c', 'command -v debootstrap'], { stdio: 'ignore' }).status !== 0) return 'debootstrap is not installed (apt-get install debootstrap)';
  const mirror = debianMirror();
  if (!mirror) return 'no bookworm mirror in /etc/apt/sources.list.d';
  if (!existsSync(CACHE)) {
    const probe = spawnSync(process.execPath, ['-e', `fetch(${JSON.stringify(`${mirror}/dists/bookworm/Release`)}, { method: 'HEAD', signal: AbortSignal.timeout(10000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`], { stdio: 'ignore' });
    if (probe.status !== 0) return `the Debian mirror ${mirror} does not answer`;
  }
  return undefined;
})();
if (skipWhy) process.stderr.write(`debian.test.ts skipped: ${skipWhy}\n`);

const node = process.execPath;
const cli = (tool: string, args: string[], timeout = 300_000) => {
  const r = spawnSync(node, [join(repo, 'bin', `${tool}.mjs`), ...args], { encoding: 'utf8', timeout, maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${tool} ${args.join(' ')} exited ${r.status}:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
  return r.stdout + r.stderr;
};

describe.skipIf(skipWhy !== undefined)('real-world build: Debian bookworm + apt-get install', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ dir, cleanup } = await scratchDir('skiff-debian-'));
    if (!existsSync(CACHE)) {
      // made once per machine boot (tmpfs); written under a temporary name and renamed so a killed run leaves none
      const rootfs = join(dir, 'rootfs');
      execFileSync('debootstrap', ['--variant=minbase', 'bookworm', rootfs, debianMirror()!], { stdio: 'ignore', timeout: 600_000 });
      const tmp = `${CACHE}.${process.pid}.tmp`;
      execFileSync('tar', ['--numeric-owner', '--xattrs', '-C', rootfs, '-cf', tmp, '.']);
      await rename(tmp, CACHE);
      await rm(rootfs, { recursive: true, force: true });
    }
  }, 900_000);
  afterAll(async () => {
    execFileSync('sh', ['-c', `awk -v d="${dir}/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l`]);
    await cleanup?.();
  });

  it('apt-get installs a package in a RUN step and the result runs it', async () => {
    const root = join(dir, 'store');
    cli('run-tool', ['--root', root, 'import', CACHE, 'localhost/debian:bookworm']);
    const ctx = join(dir, 'ctx');
    await mkdir(ctx, { recursive: true });
    await writeFile(
      join(ctx, 'Dockerfile'),
      'FROM localhost/debian:bookworm\n' +
        'ENV DEBIAN_FRONTEND=noninteractive\n' +
        'RUN apt-get update && apt-get install -y --no-install-recommends hello && rm -rf /var/lib/apt/lists/*\n' +
        'CMD ["hello", "-g", "built by skiff"]\n',
    );
    cli('build-tool', ['--root', root, 'build', '-t', 'deb-hello', '-f', join(ctx, 'Dockerfile'), ctx], 600_000);
    // the program apt installed runs from the built image (default CMD, then an explicit command)
    expect(cli('run-tool', ['--root', root, 'run', '--rm', '--network', 'none', 'deb-hello']).trim()).toBe('built by skiff');
    expect(cli('run-tool', ['--root', root, 'run', '--rm', '--network', 'none', 'deb-hello', 'dpkg-query', '-W', '-f', '${Status}', 'hello']).trim()).toBe('install ok installed');
    // a rebuild is served from the cache entirely (no apt-get run again)
    const again = cli('build-tool', ['--root', root, 'build', '-t', 'deb-hello', '-f', join(ctx, 'Dockerfile'), ctx]);
    expect(again).toContain('Using cache');
  }, 900_000);
});
