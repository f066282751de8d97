import { readFile } from 'node:fs/promises';
import { arch, hostname, release, type as osType } from 'node:os';
import { isSkiffError } from '../../shared/errors.ts';
import { runProgram } from '../../shared/process/run.ts';
import { doctor, isRootless } from '../../shared/runtime/rootless.ts';
import { locateProgram } from '../../shared/process/system-programs.ts';
import { ociRuntime } from '../../shared/runtime/oci-runtime.ts';
import { containersConf } from '../../shared/config/containers-conf.ts';
import { eventsBackend } from '../../shared/config/events-logger.ts';
import { gateRunc } from '../../shared/runtime/runc.ts';
import { emulatedArchitectures } from '../../shared/runtime/emulation.ts';
import { parseIdMap } from '../../shared/process/proc.ts';
import { listImages } from '../../shared/store/list-images.ts';
import { openStore } from '../../shared/store/store.ts';
import { storePaths } from '../../shared/store/paths.ts';
import { listContainers } from '../containers/state.ts';
import { listVolumes, volumesDir } from '../containers/volumes.ts';

// The info operation (podman's `info`): what this host, runtime and store are, and what rootless use lacks.

const GOARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x' };

async function firstLine(cmd: string, args: string[]): Promise<string> {
  try {
    const r = await runProgram(cmd, args);
    return r.code === 0 ? (r.stdout.split('\n')[0] ?? '').trim() : '';
  } catch {
    return '';
  }
}

/**
 * The host/store/runtime summary `info` prints: a subset of podman's (host.os/arch/kernel/hostname,
 * ociRuntime name/path/version and skiff's version-gate verdict, conmon, emulatedArchitectures (binfmt_misc), rootless and — rootless — the user
 * namespace's idMappings as podman prints them, store root and counts) plus a
 * `doctor` section listing what rootless use needs and what is missing; `version` is the tool's own. Reads only;
 * a missing store counts 0.
 */
export async function gatherInfo(root: string, o: { version: string }): Promise<Record<string, unknown>> {
  const paths = storePaths(root);
  let runtime: Record<string, unknown> = { name: 'runc', path: '', version: '' };
  try {
    const { name, path } = ociRuntime();
    runtime = { name, path, version: '' };
    const g = await gateRunc(path);
    runtime = { name, path, version: `${name === 'runc' ? 'runc' : name} version ${g.version.version}`, gate: g.status, ...(g.missing.length ? { missingFixes: g.missing } : {}) };
  } catch (e) {
    runtime = { ...runtime, error: (e as Error).message };
  }
  const engine = engineSettings();
  const conmonPath = locateProgram('conmon') ?? '';
  const conmon = { path: conmonPath, version: conmonPath ? await firstLine(conmonPath, ['--version']) : '' };
  let images = 0;
  try {
    const store = await openStore(root);
    try {
      images = (await listImages(store.layout)).length;
    } finally {
      await store.close();
    }
  } catch (e) {
    if (!isSkiffError(e)) throw e;
  }
  const containers = await listContainers(root);
  const count = (s: string[]): number => containers.filter((c) => s.includes(c.state.status)).length;
  const checks = await doctor();
  const osRelease = await readFile('/etc/os-release', 'utf8').catch(() => '');
  const distro = Object.fromEntries(osRelease.split('\n').map((l) => /^(\w+)="?([^"]*)"?$/.exec(l)).filter((m): m is RegExpExecArray => m !== null).map((m) => [m[1]!, m[2]!]));
  return {
    host: {
      arch: GOARCH[arch()] ?? arch(),
      os: osType().toLowerCase(),
      kernel: release(),
      hostname: hostname(),
      distribution: { distribution: distro.ID ?? '', version: distro.VERSION_ID ?? '', codename: distro.VERSION_CODENAME ?? '' },
      ociRuntime: runtime,
      conmon,
      cgroupManager: engine.cgroupManager,
      cgroupVersion: (await readFile('/sys/fs/cgroup/cgroup.controllers').then(() => 'v2', () => 'v1')),
      // podman 4.x's field: foreign platforms runnable through binfmt_misc (F-flag entries), e.g. ["linux/arm64"]
      emulatedArchitectures: await emulatedArchitectures(),
      eventLogger: engine.eventLogger,
      networkBackend: 'netavark',
      rootless: isRootless(),
      security: { rootless: isRootless() },
      ...(isRootless() && { idMappings: { uidmap: await idMappings('/proc/self/uid_map'), gidmap: await idMappings('/proc/self/gid_map') } }),
    },
    store: {
      graphRoot: paths.root,
      imageStore: { number: images },
      containerStore: { number: containers.length, paused: 0, running: count(['running', 'stopping']), stopped: count(['created', 'exited', 'stopped']) },
      volumePath: volumesDir(root),
      volumes: (await listVolumes(root)).length,
    },
    version: { Version: o.version, OsArch: `linux/${GOARCH[arch()] ?? arch()}` },
    doctor: {
      ok: checks.every((c) => c.ok),
      missing: checks.filter((c) => !c.ok).map((c) => c.detail),
      checks: checks.map((c) => ({ name: c.name, ok: c.ok, detail: c.detail })),
    },
  };
}

/** containers.conf's engine choices as info reports them (podman's names; an unreadable configuration shows the defaults). */
function engineSettings(): { cgroupManager: string; eventLogger: string } {
  try {
    const c = containersConf();
    return { cgroupManager: c.cgroupManager ?? 'cgroupfs', eventLogger: eventsBackend(c).backend };
  } catch {
    return { cgroupManager: 'cgroupfs', eventLogger: 'file' };
  }
}

/** The user namespace's id mappings in podman's `info` form (container_id, host_id, size). */
async function idMappings(file: string): Promise<{ container_id: number; host_id: number; size: number }[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return parseIdMap(text).map((m) => ({ container_id: m.containerID, host_id: m.hostID, size: m.size }));
}
