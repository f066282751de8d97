import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseContainersConf } from '../../../shared/config/containers-conf.ts';
import { eventsBackend } from '../../../shared/config/events-logger.ts';
import { expandStoragePath, storageConfPaths, storageConfRoot, storageConfRunRoot } from '../../../shared/config/storage-conf.ts';
import { cgroupManager, cgroupsPathFor } from '../../../shared/runtime/cgroup-manager.ts';
import { ociRuntime } from '../../../shared/runtime/oci-runtime.ts';
import { runcRootFor } from '../../../shared/runtime/runc.ts';
import { scratchDir } from '../../helpers/tmp.ts';

let dir = '';
let cleanup: (() => Promise<void>) | undefined;
const put = (p: string, text: string) => {
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, text);
};

describe('containers.conf engine keys and storage.conf locations', () => {
  beforeAll(async () => {
    const sd = await scratchDir('skiff-engine-conf-');
    dir = sd.dir;
    cleanup = sd.cleanup;
  });
  afterAll(async () => cleanup?.());

  it('an engine value outside podman\'s choices is one EINVALID line naming file:line', () => {
    expect(() => parseContainersConf('[engine]\n\nevents_logger = "bogus"\n', 'c.conf')).toThrow(/^invalid containers\.conf c\.conf:3: events_logger "bogus" is not one of file, journald, none$/);
    expect(() => parseContainersConf('[engine]\ncgroup_manager = "cgroupv3"\n', 'c.conf')).toThrow(/c\.conf:2: cgroup_manager "cgroupv3" is not one of cgroupfs, systemd/);
    expect(() => parseContainersConf('[network]\nnetwork_backend = "slirp"\n', 'c.conf')).toThrow(/network_backend "slirp" is not one of/);
    expect(() => parseContainersConf('[engine]\ncompression_format = "xz"\n', 'c.conf')).toThrow(/compression_format "xz" is not one of gzip, zstd, zstd:chunked/);
    expect(() => parseContainersConf('[engine]\nimage_default_transport = "docker"\n', 'c.conf')).toThrow(/image_default_transport "docker" is not a transport prefix/);
    expect(parseContainersConf('[engine]\nevents_logger = "none"\ncgroup_manager = "systemd"\nimage_default_transport = "oci:"\n[network]\nnetwork_backend = "cni"\n', 'c.conf'))
      .toEqual({ eventsLogger: 'none', cgroupManager: 'systemd', imageDefaultTransport: 'oci:', networkBackend: 'cni' });
  });

  it('events_logger: file by default, none writes nothing, journald falls back to the file with a warning', () => {
    expect(eventsBackend({})).toEqual({ backend: 'file' });
    expect(eventsBackend({ eventsLogger: 'file' })).toEqual({ backend: 'file' });
    expect(eventsBackend({ eventsLogger: 'none' })).toEqual({ backend: 'none' });
    const missing = eventsBackend({ eventsLogger: 'journald' }, join(dir, 'no-journal-socket'));
    expect(missing.backend).toBe('file');
    expect(missing.warning).toMatch(/no journal is running .*no-journal-socket is missing.*file log/);
    put(join(dir, 'journal-socket'), '');
    expect(eventsBackend({ eventsLogger: 'journald' }, join(dir, 'journal-socket')).warning).toMatch(/does not write to the journal/);
  });

  it('cgroup_manager: cgroupfs by default; systemd needs systemd as init', () => {
    expect(cgroupManager({})).toBe('cgroupfs');
    expect(cgroupManager({ cgroupManager: 'cgroupfs' })).toBe('cgroupfs');
    expect(() => cgroupManager({ cgroupManager: 'systemd' }, join(dir, 'not-booted'))).toThrow(/^cgroup manager "systemd" needs systemd running as init/);
    mkdirSync(join(dir, 'booted'));
    expect(cgroupManager({ cgroupManager: 'systemd' }, join(dir, 'booted'))).toBe('systemd');
    expect(cgroupsPathFor('abc', 'cgroupfs')).toBe('/skiff/abc');
    expect(cgroupsPathFor('abc', 'systemd')).toBe('machine.slice:skiff:abc');
  });

  it('runtime: runc by default, a name looked up, a path checked; a missing one is one ENODEP line in podman\'s words', () => {
    const env = { PATH: join(dir, 'bin') };
    put(join(dir, 'bin', 'myrt'), '#!/bin/sh\n');
    chmodSync(join(dir, 'bin', 'myrt'), 0o755);
    expect(ociRuntime({}, { PATH: process.env.PATH }).name).toBe('runc');
    expect(ociRuntime({ runtime: 'myrt' }, env)).toEqual({ name: 'myrt', path: join(dir, 'bin', 'myrt') });
    expect(ociRuntime({ runtime: join(dir, 'bin', 'myrt') }, env)).toEqual({ name: 'myrt', path: join(dir, 'bin', 'myrt') });
    expect(() => ociRuntime({ runtime: 'no-such-runtime-xyz' }, env)).toThrow(/^default OCI runtime "no-such-runtime-xyz" not found$/);
    expect(() => ociRuntime({ runtime: '/nope/crun' }, env)).toThrow(/^no valid executable found for OCI runtime \/nope\/crun$/);
    // SKIFF_RUNC (an explicit binary) wins over the file
    expect(ociRuntime({ runtime: 'no-such-runtime-xyz' }, { ...env, SKIFF_RUNC: join(dir, 'bin', 'myrt') }).path).toBe(join(dir, 'bin', 'myrt'));
  });

  it('storage paths expand $HOME, $UID, $USER and ${VAR} as containers/storage does', () => {
    expect(expandStoragePath('$HOME/s/$UID/${XDG_X}/$USER', { HOME: '/home/u', USER: 'u', XDG_X: 'x' }, 1000)).toBe('/home/u/s/1000/x/u');
    expect(expandStoragePath('/a/$NOPE/b/../c', {}, 0)).toBe('/a/c');
  });

  it('storage.conf: root takes graphroot and runroot; the run root moves runc\'s state dir', () => {
    const f = join(dir, 'root-storage.conf');
    put(f, '[storage]\ndriver = "overlay"\ngraphroot = "/srv/g-$UID"\nrunroot = "/run/r-$UID"\nrootless_storage_path = "/ignored"\n');
    const env = { CONTAINERS_STORAGE_CONF: f };
    expect(storageConfPaths(env, 0)).toEqual({ graphRoot: '/srv/g-0', runRoot: '/run/r-0' });
    expect(storageConfRoot(env, 0)).toBe('/srv/g-0/skiff');
    expect(storageConfRunRoot(env, 0)).toBe('/run/r-0/skiff');
    expect(runcRootFor(0, env)).toBe('/run/r-0/skiff/runc');
    put(f, '[storage]\nrunroot = 7\n');
    expect(() => storageConfRunRoot(env, 0)).toThrow(/root-storage\.conf:2: runroot must be a string/);
  });

  it('storage.conf rootless: the user\'s file wins; rootless_storage_path (expanded) is the graph root when it sets none', () => {
    const home = join(dir, 'home');
    const own = join(home, '.config', 'containers', 'storage.conf');
    put(own, '[storage]\nrootless_storage_path = "$HOME/rl-$UID"\nrunroot = "$HOME/run"\n');
    const env = { HOME: home, XDG_RUNTIME_DIR: '/run/user/1000' };
    expect(storageConfPaths(env, 1000)).toEqual({ graphRoot: join(home, 'rl-1000'), runRoot: join(home, 'run') });
    expect(runcRootFor(1000, env)).toBe(join(home, 'run', 'skiff', 'runc'));
    put(own, '[storage]\ngraphroot = "$HOME/g"\nrootless_storage_path = "$HOME/rl"\n');
    expect(storageConfRoot(env, 1000)).toBe(join(home, 'g', 'skiff'));
    expect(runcRootFor(1000, env)).toBe('/run/user/1000/skiff/runc');
    // CONTAINERS_STORAGE_CONF is the user's file for a rootless user
    const alt = join(dir, 'alt.conf');
    put(alt, '[storage]\nrootless_storage_path = "/srv/rl/$UID"\n');
    expect(storageConfRoot({ ...env, CONTAINERS_STORAGE_CONF: alt }, 1000)).toBe('/srv/rl/1000/skiff');
  });
});
