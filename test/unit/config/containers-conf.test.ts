import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containersConf, containersConfFiles, loadContainersConf, parseContainersConf, revalidateContainersConf } from '../../../shared/config/containers-conf.ts';
import { storageConfRoot } from '../../../shared/config/storage-conf.ts';
import { withConfDefaults as withDefaults } from '../../../run-tool/ops/conf-defaults.ts';
import type { CreateOptions } from '../../../run-tool/containers/create-options.ts';

const withConfDefaults = (o: CreateOptions, c: Parameters<typeof withDefaults>[1], rootless: boolean): CreateOptions => withDefaults(o, c, rootless);
import { scratchDir } from '../../helpers/tmp.ts';

let dir = '';
let cleanup: (() => Promise<void>) | undefined;
const put = (p: string, text: string) => {
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, text);
};

describe('containers.conf', () => {
  beforeAll(async () => {
    const sd = await scratchDir('skiff-cconf-');
    dir = sd.dir;
    cleanup = sd.cleanup;
  });
  afterAll(async () => cleanup?.());

  it('reads the keys skiff honours and ignores unknown ones', () => {
    const c = parseContainersConf(
      '[containers]\nenv = ["A=1"]\npids_limit = 100\nshm_size = "1g"\nfuture_key = { x = 1 }\n[network]\ndefault_network = "n1"\n[engine]\nruntime = "runc"\ncompression_format = "zstd"\n[machine]\ncpus = 2\n',
      'f.conf',
    );
    expect(c).toEqual({ env: ['A=1'], pidsLimit: 100, shmSize: 1073741824, defaultNetwork: 'n1', runtime: 'runc', compressionFormat: 'zstd' });
  });

  it('a syntax error or a wrong type names file:line', () => {
    expect(() => parseContainersConf('[containers]\nenv = ["A"\n', '/x/c.conf')).toThrow(/^invalid containers\.conf \/x\/c\.conf:\d+: /);
    expect(() => parseContainersConf('[containers]\n\npids_limit = "many"\n', 'c.conf')).toThrow('invalid containers.conf c.conf:3: pids_limit must be an integer');
    expect(() => parseContainersConf('[containers]\nenv = "A=1"\n', 'c.conf')).toThrow(/c\.conf:2: env must be an array of strings/);
    expect(() => parseContainersConf('[containers]\nshm_size = "lots"\n', 'c.conf')).toThrow(/c\.conf:2: .*shm_size/);
  });

  it('precedence: vendor < admin < rootless < user, each followed by its drop-ins; CONTAINERS_CONF_OVERRIDE last', () => {
    const usr = join(dir, 'p/usr');
    const etc = join(dir, 'p/etc');
    const home = join(dir, 'p/home');
    put(join(usr, 'containers.conf'), '[containers]\nenv = ["V=usr"]\npids_limit = 1\nshm_size = "1m"\ninit_path = "/usr/init"\n');
    put(join(usr, 'containers.conf.d/10-a.conf'), '[containers]\npids_limit = 2\n');
    put(join(etc, 'containers.conf'), '[containers]\nshm_size = "2m"\n');
    put(join(etc, 'containers.conf.d/20-b.conf'), '[containers]\nshm_size = "3m"\n');
    put(join(etc, 'containers.conf.d/10-a.conf'), '[containers]\nshm_size = "9m"\n');
    put(join(etc, 'containers.conf.d/ignored.txt'), 'not toml [');
    put(join(etc, 'containers.rootless.conf'), '[engine]\nevents_logger = "file"\n');
    put(join(etc, 'containers.rootless.conf.d/1000/x.conf'), '[engine]\ncgroup_manager = "cgroupfs"\n');
    put(join(etc, 'containers.rootful.conf'), '[engine]\nevents_logger = "journald"\n');
    put(join(home, '.config/containers/containers.conf'), '[containers]\ninit_path = "/home/init"\n');
    const override = join(dir, 'p/override.conf');
    put(override, '[containers]\npids_limit = 9\n');
    const env = { HOME: home };
    const rootless = loadContainersConf({ env, uid: 1000, usrDir: usr, etcDir: etc });
    expect(rootless).toMatchObject({ env: ['V=usr'], pidsLimit: 2, shmSize: 3 * 1048576, initPath: '/home/init', eventsLogger: 'file', cgroupManager: 'cgroupfs' });
    const rootful = loadContainersConf({ env, uid: 0, usrDir: usr, etcDir: etc });
    expect(rootful).toMatchObject({ initPath: '/usr/init', eventsLogger: 'journald' });
    expect(rootful.cgroupManager).toBeUndefined();
    expect(loadContainersConf({ env: { ...env, CONTAINERS_CONF_OVERRIDE: override }, uid: 1000, usrDir: usr, etcDir: etc }).pidsLimit).toBe(9);
    // CONTAINERS_CONF replaces every default file
    const only = loadContainersConf({ env: { ...env, CONTAINERS_CONF: override }, uid: 1000, usrDir: usr, etcDir: etc });
    expect(only).toEqual({ pidsLimit: 9, files: [override] });
    expect(containersConfFiles({ env: { CONTAINERS_CONF: override, CONTAINERS_CONF_OVERRIDE: override } }).map((f) => f.required)).toEqual([true, true]);
  });

  it('a missing CONTAINERS_CONF is ENOTFOUND; a malformed drop-in names itself', () => {
    expect(() => loadContainersConf({ env: { CONTAINERS_CONF: join(dir, 'nope.conf') } })).toThrow(expect.objectContaining({ code: 'ENOTFOUND' }));
    const etc = join(dir, 'bad/etc');
    put(join(etc, 'containers.conf.d/50-bad.conf'), '[containers\n');
    expect(() => loadContainersConf({ env: {}, uid: 0, usrDir: join(dir, 'bad/usr'), etcDir: etc })).toThrow(/50-bad\.conf:1: /);
  });

  it('storage.conf graphroot picks the store root inside it; without a graphroot nothing changes', () => {
    const f = join(dir, 'storage.conf');
    put(f, '[storage]\ndriver = "overlay"\ngraphroot = "/srv/graph"\n');
    expect(storageConfRoot({ CONTAINERS_STORAGE_CONF: f }, 0)).toBe('/srv/graph/skiff');
    put(f, '[storage]\ndriver = "overlay"\n');
    expect(storageConfRoot({ CONTAINERS_STORAGE_CONF: f }, 0)).toBeUndefined();
    put(f, '[storage]\ngraphroot = 3\n');
    expect(() => storageConfRoot({ CONTAINERS_STORAGE_CONF: f }, 0)).toThrow(/storage\.conf:2: graphroot must be a string/);
  });

  it('defaults fill what the flags leave unset', () => {
    const c = { files: [], env: ['E=conf'], dnsServers: ['127.0.0.53'], defaultSysctls: ['net.ipv4.ping_group_range=0 0', 'kernel.msgmax=1'], defaultUlimits: ['nofile=10:20'], pidsLimit: 50, defaultCapabilities: ['CHOWN', 'NET_RAW'], defaultNetwork: 'podman' };
    const o = withConfDefaults({ image: 'x', env: ['E=flag'], dns: [], sysctls: { 'kernel.msgmax': '2' }, network: 'host' }, c, false);
    expect(o.env).toEqual(['E=conf', 'E=flag']);
    expect(o.dns).toEqual(['127.0.0.53']);
    expect(o.sysctls).toEqual({ 'kernel.msgmax': '2' });
    expect(o.ulimits).toEqual([{ type: 'RLIMIT_NOFILE', soft: 10, hard: 20 }]);
    expect(o.pidsLimit).toBe(50);
    expect(o.network).toBe('host');
    expect(o.capAdd).toEqual(['CAP_NET_RAW']);
    expect(o.capDrop).toContain('CAP_KILL');
    expect(withConfDefaults({ image: 'x', pidsLimit: 7, capDrop: ['net_raw'] }, c, true)).toMatchObject({ pidsLimit: 7, capAdd: [] });
    expect(withConfDefaults({ image: 'x' }, c, true).pidsLimit).toBeUndefined();
    expect(withConfDefaults({ image: 'x' }, { files: [], defaultNetwork: 'mynet' }, false).network).toBe('mynet');
    expect(withConfDefaults({ image: 'x' }, { files: [], shmSize: 1048576, initPath: '/opt/init' }, false)).toMatchObject({ shmSize: 1048576, initPath: '/opt/init' });
  });
});

describe('containersConf in a long-lived process (revalidateContainersConf)', () => {
  let sd: Awaited<ReturnType<typeof scratchDir>> | undefined;
  const saved = { conf: process.env.CONTAINERS_CONF, override: process.env.CONTAINERS_CONF_OVERRIDE };
  beforeAll(async () => {
    sd = await scratchDir('skiff-cconf-reval-');
  });
  afterAll(async () => {
    revalidateContainersConf(false);
    for (const [k, v] of [['CONTAINERS_CONF', saved.conf], ['CONTAINERS_CONF_OVERRIDE', saved.override]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await sd?.cleanup();
  });

  it('a file edited, replaced or added between two calls takes effect at once; an unchanged one is not read again', () => {
    const f = join(sd!.dir, 'containers.conf');
    writeFileSync(f, '[containers]\nenv = ["A=1"]\n');
    process.env.CONTAINERS_CONF = f;
    delete process.env.CONTAINERS_CONF_OVERRIDE;
    revalidateContainersConf();
    const first = containersConf();
    expect(first.env).toEqual(['A=1']);
    expect(containersConf()).toBe(first); // same files, same identity: the cached value
    writeFileSync(f, '[containers]\nenv = ["A=22"]\n'); // edited in place (size and mtime change)
    expect(containersConf().env).toEqual(['A=22']);
    const g = join(sd!.dir, 'next.conf');
    writeFileSync(g, '[containers]\nenv = ["B=3"]\n');
    renameSync(g, f); // replaced by rename: another inode, same size as before
    expect(containersConf().env).toEqual(['B=3']);
    const o = join(sd!.dir, 'override.conf');
    writeFileSync(o, '[containers]\npids_limit = 7\n');
    process.env.CONTAINERS_CONF_OVERRIDE = o; // another file in the list
    expect(containersConf().pidsLimit).toBe(7);
    writeFileSync(f, '[containers]\nenv = [\n'); // malformed: an error, never the last good value
    expect(() => containersConf()).toThrow(/containers\.conf|next|line/i);
  });
});
