import { readFile } from 'node:fs/promises';
import { arch, hostname, release, type as osType } from 'node:os';
import type { Command } from 'commander';
import { addRootOption, storeRootOf, VERSION } from '../../shared/cli/program.ts';
import { goType, parseGoTemplate } from '../../shared/cli/go-template.ts';
import { isSkiffError } from '../../shared/errors.ts';
import { runProgram } from '../../shared/process/run.ts';
import { doctor, isRootless } from '../../shared/runtime/rootless.ts';
import { locateProgram, requireProgram } from '../../shared/process/system-programs.ts';
import { gateRunc } from '../../shared/runtime/runc.ts';
import { parseIdMap } from '../../shared/process/proc.ts';
import { listImages } from '../../shared/store/list-images.ts';
import { openStore } from '../../shared/store/store.ts';
import { storePaths } from '../../shared/store/paths.ts';
import { listContainers } from '../containers/state.ts';
import { listVolumes, volumesDir } from '../containers/volumes.ts';

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
 * ociRuntime name/path/version and skiff's version-gate verdict, conmon, rootless and — rootless — the user
 * namespace's idMappings as podman prints them, store root and counts) plus a
 * `doctor` section listing what rootless use needs and what is missing. Reads only; a missing store counts 0.
 */
export async function gatherInfo(root: string): Promise<Record<string, unknown>> {
  const paths = storePaths(root);
  let runtime: Record<string, unknown> = { name: 'runc', path: '', version: '' };
  try {
    const path = requireProgram('runc');
    const g = await gateRunc(path);
    runtime = { name: 'runc', path, version: `runc version ${g.version.version}`, gate: g.status, ...(g.missing.length ? { missingFixes: g.missing } : {}) };
  } catch (e) {
    runtime = { name: 'runc', path: '', version: '', error: (e as Error).message };
  }
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
      cgroupVersion: (await readFile('/sys/fs/cgroup/cgroup.controllers').then(() => 'v2', () => 'v1')),
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
    version: { Version: VERSION, OsArch: `linux/${GOARCH[arch()] ?? arch()}` },
    doctor: {
      ok: checks.every((c) => c.ok),
      missing: checks.filter((c) => !c.ok).map((c) => c.detail),
      checks: checks.map((c) => ({ name: c.name, ok: c.ok, detail: c.detail })),
    },
  };
}

/** The user namespace's id mappings in podman's `info` form (container_id, host_id, size). */
async function idMappings(file: string): Promise<{ container_id: number; host_id: number; size: number }[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return parseIdMap(text).map((m) => ({ container_id: m.containerID, host_id: m.hostID, size: m.size }));
}

/** Renders a value as the simple YAML podman's default `info` output uses. */
function toYaml(v: unknown, indent = ''): string {
  if (Array.isArray(v)) {
    if (v.length === 0) return ' []\n';
    return `\n${v.map((x) => (typeof x === 'object' && x !== null ? `${indent}- ${toYaml(x, `${indent}  `).trimStart()}` : `${indent}- ${String(x)}\n`)).join('')}`;
  }
  if (typeof v === 'object' && v !== null) {
    const entries = Object.entries(v);
    if (entries.length === 0) return ' {}\n';
    return `\n${entries.map(([k, x]) => `${indent}${k}:${typeof x === 'object' && x !== null ? toYaml(x, `${indent}  `) : ` ${typeof x === 'string' && (x === '' || /[:#]/.test(x)) ? JSON.stringify(x) : String(x)}\n`}`).join('')}`;
  }
  return ` ${String(v)}\n`;
}

/** Adds `info [--format json|TEMPLATE]` (podman's; YAML by default) — also the rootless doctor. */
export function addInfoCommand(program: Command): void {
  const cmd = program.command('info').description('display system information and what rootless use is missing').option('-f, --format <format>', "'json' or a Go template, e.g. '{{.Host.Kernel}}'");
  addRootOption(cmd).action(async (a: { format?: string }) => {
    const info = await gatherInfo(storeRootOf(cmd));
    if (a.format === 'json') return void process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
    if (a.format !== undefined) return void process.stdout.write(`${parseGoTemplate(a.format, { name: 'info' }).render(goType(capitalised(info) as Record<string, unknown>, '*define.Info'))}\n`);
    process.stdout.write(toYaml(info).replace(/^\n/, ''));
  });
}

/** podman's templates use Go field names (`{{.Host.Kernel}}`): expose capitalised keys alongside the JSON ones. */
function capitalised(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(capitalised);
  if (typeof v !== 'object' || v === null) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    const c = capitalised(x);
    out[k] = c;
    out[k.charAt(0).toUpperCase() + k.slice(1)] = c;
  }
  return out;
}
