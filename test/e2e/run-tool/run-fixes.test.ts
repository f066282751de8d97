// run/create fixes towards podman 4.3: registry flags of the pull `--pull` does (against a real docker-registry with
// htpasswd auth), anonymous volume parsing, podman's passwd/group entries (pure and on a rootfs), and the -w check.
// The differential side of these (same scenario under podman) is in podman-diff.test.ts.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistryOptions, parseCreateFlags, parseVolume, parseVolumeMountFlag } from '../../../run-tool/commands/create-flags.ts';
import { missingWorkdir } from '../../../shared/runtime/build-spec.ts';
import { addAccountEntries } from '../../../shared/runtime/etc-files.ts';
import { podmanAccountEntries, resolveUser } from '../../../shared/runtime/user.ts';
import { hasBusybox, makeBusyboxImage } from '../../helpers/busybox.ts';
import { REGISTRY_BIN, startRegistry, type TestRegistry } from '../../helpers/registry.ts';
import { scratchDir } from '../../helpers/tmp.ts';
import { rt } from './images-helpers.ts';

const PASSWD = 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n';
const GROUP = 'root:x:0:\nnogroup:x:65534:\n';

describe('anonymous volumes in -v and --mount', () => {
  it('-v /path and --mount type=volume,dst=/path without a source are anonymous (name "")', () => {
    expect(parseVolume('/data')).toEqual({ volume: { name: '', destination: '/data', options: [] } });
    expect(parseVolumeMountFlag('type=volume,dst=/m,ro')).toEqual({ name: '', destination: '/m', options: ['ro'] });
    expect(parseVolumeMountFlag('type=volume,target=/m')).toEqual({ name: '', destination: '/m', options: [] });
    expect(parseVolume('named:/x:ro')).toEqual({ volume: { name: 'named', destination: '/x', options: ['ro'] } });
    const o = parseCreateFlags('img', [], { ...baseFlags(), volume: ['/a'], mount: ['type=volume,dst=/b'] });
    expect(o.volumes).toEqual([{ name: '', destination: '/a', options: [] }, { name: '', destination: '/b', options: [] }]);
  });

  it("podman's errors: a relative single path, a relative destination (`-v /etc:ro`), --mount without a target", () => {
    expect(() => parseVolume('data')).toThrow('invalid container path "data", must be an absolute path');
    expect(() => parseVolume('/etc:ro')).toThrow('invalid container path "ro", must be an absolute path');
    expect(() => parseVolumeMountFlag('type=volume,src=x')).toThrow(/no target/);
  });
});

describe("podman's /etc/passwd and /etc/group entries", () => {
  it('only numeric users the image lacks get a passwd line; numeric groups (or the user part) a group line', () => {
    expect(podmanAccountEntries('', PASSWD, GROUP, '/')).toEqual({});
    expect(podmanAccountEntries('1234', PASSWD, GROUP, '/')).toEqual({ passwd: '1234:*:1234:0:container user:/:/bin/sh\n', group: '1234:x:1234:1234\n' });
    expect(podmanAccountEntries('1234:5678', PASSWD, GROUP, '/w')).toEqual({ passwd: '1234:*:1234:5678:container user:/w:/bin/sh\n', group: '5678:x:5678:1234\n' });
    expect(podmanAccountEntries('1234:nogroup', PASSWD, GROUP, '/')).toEqual({ passwd: '1234:*:1234:65534:container user:/:/bin/sh\n' });
    expect(podmanAccountEntries('nobody:1234', PASSWD, GROUP, '/')).toEqual({ group: '1234:x:1234:nobody\n' });
    expect(podmanAccountEntries('nobody', PASSWD, GROUP, '/')).toEqual({});
    expect(podmanAccountEntries('0', PASSWD, GROUP, '/')).toEqual({});
    expect(podmanAccountEntries('65534:0', PASSWD, GROUP, '/')).toEqual({});
  });

  it('resolveUser with podman rules: the primary gid joins the supplementary groups of a given user; HOME is the workdir', async () => {
    const { dir, cleanup } = await scratchDir('skiff-runfix-');
    try {
      await mkdir(join(dir, 'etc'));
      await writeFile(join(dir, 'etc', 'passwd'), `${PASSWD}u:x:1000:1000:u:/home/u:/bin/sh\n`);
      await writeFile(join(dir, 'etc', 'group'), `${GROUP}ug:x:1000:u\nextra:x:2000:u\n`);
      const podman = { podman: { home: '/work' } };
      expect(await resolveUser(dir, 'u', podman)).toMatchObject({ uid: 1000, gid: 1000, additionalGids: [1000, 2000], home: '/home/u' });
      expect(await resolveUser(dir, 'u')).toMatchObject({ additionalGids: [2000] });
      expect(await resolveUser(dir, '1234', podman)).toMatchObject({ uid: 1234, gid: 0, additionalGids: [0], home: '/work' });
      expect(await resolveUser(dir, '1234')).not.toHaveProperty('home');
      expect(await resolveUser(dir, '', podman)).toMatchObject({ uid: 0, gid: 0, additionalGids: [] });
    } finally {
      await cleanup();
    }
  });

  it('addAccountEntries appends in place (after append()), copies for a read-only rootfs, and never writes through a link out of the rootfs', async () => {
    const { dir, cleanup } = await scratchDir('skiff-runfix-');
    try {
      const rootfs = join(dir, 'rootfs');
      await mkdir(join(rootfs, 'etc'), { recursive: true });
      await writeFile(join(rootfs, 'etc', 'passwd'), PASSWD);
      await writeFile(join(rootfs, 'etc', 'group'), GROUP.trimEnd()); // no final newline
      const rw = await addAccountEntries(rootfs, join(dir, 'userdata'), { user: '1234', workdir: '/srv', readOnly: false });
      expect(rw.mounts).toEqual([]);
      expect(await readFile(join(rootfs, 'etc', 'passwd'), 'utf8')).toBe(PASSWD); // nothing before append()
      await rw.append();
      expect(await readFile(join(rootfs, 'etc', 'passwd'), 'utf8')).toBe(`${PASSWD}1234:*:1234:0:container user:/srv:/bin/sh\n`);
      expect(await readFile(join(rootfs, 'etc', 'group'), 'utf8')).toBe(`${GROUP}1234:x:1234:1234\n`);
      const ro = await addAccountEntries(rootfs, join(dir, 'userdata'), { user: '77:88', workdir: '/', readOnly: true });
      expect(ro.mounts).toEqual([
        { type: 'bind', source: join(dir, 'userdata', 'passwd'), destination: '/etc/passwd', options: ['rbind', 'ro'] },
        { type: 'bind', source: join(dir, 'userdata', 'group'), destination: '/etc/group', options: ['rbind', 'ro'] },
      ]);
      expect(await readFile(join(dir, 'userdata', 'group'), 'utf8')).toBe(`${GROUP}1234:x:1234:1234\n88:x:88:77\n`);
      // a user mount over /etc/group wins; an empty user adds nothing
      const mounted = await addAccountEntries(rootfs, join(dir, 'u2'), { user: '99', workdir: '/', readOnly: true, mountedPaths: new Set(['/etc/group']) });
      expect(mounted.mounts.map((m) => m.destination)).toEqual(['/etc/passwd']);
      expect((await addAccountEntries(rootfs, join(dir, 'u3'), { user: '', workdir: '/', readOnly: true })).mounts).toEqual([]);
      // /etc/passwd -> a host file by absolute link: resolved inside the rootfs (a missing file there: left alone)
      const host = join(dir, 'host-passwd');
      await writeFile(host, 'host\n');
      const r2 = join(dir, 'rootfs2');
      await mkdir(join(r2, 'etc'), { recursive: true });
      await symlink(host, join(r2, 'etc', 'passwd'));
      const linked = await addAccountEntries(r2, join(dir, 'u4'), { user: '1234', workdir: '/', readOnly: false });
      await linked.append();
      expect(await readFile(host, 'utf8')).toBe('host\n');
    } finally {
      await cleanup();
    }
  });

  it('missingWorkdir: podman messages for a missing directory or a file; mounts and / pass', async () => {
    const { dir, cleanup } = await scratchDir('skiff-runfix-');
    try {
      await mkdir(join(dir, 'tmp'));
      await writeFile(join(dir, 'file'), '');
      await symlink('/tmp', join(dir, 'link'));
      expect(await missingWorkdir(dir, '/', [], 'ID')).toBeUndefined();
      expect(await missingWorkdir(dir, '/tmp', [], 'ID')).toBeUndefined();
      expect(await missingWorkdir(dir, '/link', [], 'ID')).toBeUndefined();
      expect(await missingWorkdir(dir, '/new/dir', [], 'ID')).toBe('workdir "/new/dir" does not exist on container ID');
      expect(await missingWorkdir(dir, '/file', [], 'ID')).toBe('workdir "/file" exists on container ID, but is not a directory');
      expect(await missingWorkdir(dir, '/mnt/sub', ['/mnt'], 'ID')).toBeUndefined();
      expect(await missingWorkdir(dir, '/mntx', ['/mnt'], 'ID')).toMatch(/does not exist/);
    } finally {
      await cleanup();
    }
  });
});

describe('run/create registry flags', () => {
  it('--creds, --authfile and --tls-verify become the pull registry options (pull\'s own parsing)', () => {
    // every registry option set prints retries on stderr, as copy-tool does
    const retries = { onRetry: expect.any(Function) };
    expect(createRegistryOptions({})).toEqual(retries);
    expect(createRegistryOptions({ creds: 'u:p', authfile: '/a.json', tlsVerify: 'false' })).toEqual({ credentials: { username: 'u', password: 'p' }, authFile: '/a.json', tlsVerify: false, ...retries });
    expect(() => createRegistryOptions({ tlsVerify: 'maybe' })).toThrow(/tls-verify/);
  });
});

const repo = resolve(import.meta.dirname, '../../..');
/** `run` takes the flags once run-tool/commands/run.ts passes createRegistryOptions to ensureImage (the lead's file). */
const runWired = readFileSync(join(repo, 'run-tool', 'commands', 'run.ts'), 'utf8').includes('createRegistryOptions');

describe.skipIf(!existsSync(REGISTRY_BIN) || !hasBusybox)('run/create --pull with --creds and --authfile against an htpasswd registry', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let auth: TestRegistry;
  let ref: string;
  const env = { REGISTRY_AUTH_FILE: '', CONTAINERS_REGISTRIES_CONF: '' };

  beforeAll(async () => {
    ({ dir, cleanup } = await scratchDir('skiff-runfix-reg-'));
    auth = await startRegistry({ auth: 'htpasswd' });
    const src = join(dir, 'src');
    await makeBusyboxImage(src, dir, 'localhost/busybox:latest');
    ref = `${auth.host}/lib/busybox:1`;
    const c = spawnSync('skopeo', ['copy', '--dest-tls-verify=false', '--dest-creds', `${auth.user}:${auth.password}`, `oci:${src}/images:localhost/busybox:latest`, `docker://${ref}`], { encoding: 'utf8' });
    expect(c.status, c.stderr).toBe(0);
  }, 120_000);
  afterAll(async () => {
    await auth?.stop();
    await cleanup?.();
  });

  it('create --creds pulls with the credentials; without them the pull fails 125; a wrong password too', () => {
    const root = join(dir, 'store-creds');
    const no = rt(['--root', root, 'create', '--tls-verify=false', '--network', 'none', ref, 'true'], { env });
    expect(no.status).toBe(125);
    const bad = rt(['--root', root, 'create', '--tls-verify=false', '--creds', `${auth.user}:wrong`, '--network', 'none', ref, 'true'], { env });
    expect(bad.status).toBe(125);
    const r = rt(['--root', root, 'create', '--tls-verify=false', '--creds', `${auth.user}:${auth.password}`, '--network', 'none', ref, 'true'], { env });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^[0-9a-f]{64}\n$/);
    expect(rt(['--root', root, 'images', '--format', '{{.Repository}}:{{.Tag}}'], { env }).stdout).toBe(`${ref}\n`);
    expect(rt(['--root', root, 'rm', r.stdout.trim()]).status).toBe(0);
  });

  it('create --authfile reads the credentials from that file (--pull always)', async () => {
    const root = join(dir, 'store-authfile');
    const authfile = join(dir, 'auth.json');
    await writeFile(authfile, JSON.stringify({ auths: { [auth.host]: { auth: Buffer.from(`${auth.user}:${auth.password}`).toString('base64') } } }), { mode: 0o600 });
    const r = rt(['--root', root, 'create', '--pull', 'always', '--tls-verify=false', '--authfile', authfile, '--network', 'none', ref, 'true'], { env });
    expect(r.status, r.stderr).toBe(0);
    expect(rt(['--root', root, 'rm', r.stdout.trim()]).status).toBe(0);
    const missing = rt(['--root', join(dir, 'store-noauth'), 'create', '--tls-verify=false', '--authfile', join(dir, 'empty.json'), '--network', 'none', ref, 'true'], { env });
    expect(missing.status).toBe(125);
  });

  it.skipIf(!runWired)('run --creds and run --authfile pull with them', async () => {
    const r = rt(['--root', join(dir, 'store-run'), 'run', '--rm', '--tls-verify=false', '--creds', `${auth.user}:${auth.password}`, '--network', 'none', ref, 'echo', 'pulled'], { env });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('pulled\n');
  });
});

function baseFlags() {
  return {
    env: [], envFile: [], addHost: [], dns: [], dnsSearch: [], dnsOption: [], capAdd: [], capDrop: [], securityOpt: [], ulimit: [],
    restart: 'no', healthInterval: '30s', healthRetries: '3', healthTimeout: '30s', healthStartPeriod: '0s', label: [], pull: 'missing',
    device: [], groupAdd: [], sysctl: [], preserveFds: '0', volume: [], mount: [], tmpfs: [], publish: [],
  };
}
