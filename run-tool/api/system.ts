// The Docker API's system endpoints: _ping, version, info, system/df — skiff's facts in Docker's field names.
import { arch, platform, release } from 'node:os';
import { gatherInfo } from '../ops/info.ts';
import type { ApiRequest } from './context.ts';
import { sendJson } from './http-util.ts';

/** The API version skiff speaks and the oldest a client may ask for. */
export const API_VERSION = '1.41';
export const MIN_API_VERSION = '1.24';

const goArch = (): string => ({ x64: 'amd64', arm64: 'arm64', arm: 'arm' } as Record<string, string>)[arch()] ?? arch();

/** The headers every reply carries (what `/_ping` reports). */
export function pingHeaders(): Record<string, string> {
  return { 'API-Version': API_VERSION, 'OSType': platform(), 'Docker-Experimental': 'false', 'Builder-Version': '1', 'Cache-Control': 'no-cache, no-store, must-revalidate', 'Pragma': 'no-cache' };
}

/** GET and HEAD /_ping */
export async function pingHandler(r: ApiRequest): Promise<void> {
  r.res.writeHead(200, { ...pingHeaders(), 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': 2 });
  r.res.end(r.req.method === 'HEAD' ? undefined : 'OK');
}

/** GET /version */
export async function versionHandler(r: ApiRequest): Promise<void> {
  const v = { Version: r.version, ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION, GitCommit: '', GoVersion: `node ${process.version}`, Os: platform(), Arch: goArch(), KernelVersion: release(), BuildTime: '' };
  sendJson(r.res, 200, { Platform: { Name: 'skiff' }, Components: [{ Name: 'Engine', Version: r.version, Details: { ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION, Os: v.Os, Arch: v.Arch, KernelVersion: v.KernelVersion } }], ...v });
}

/** GET /info */
export async function infoHandler(r: ApiRequest): Promise<void> {
  const i = await gatherInfo(r.root, { version: r.version }) as { store?: { containerStore?: { number?: number; running?: number; stopped?: number; paused?: number }; imageStore?: { number?: number } } };
  const cs = i.store?.containerStore ?? {};
  sendJson(r.res, 200, {
    ID: '', Containers: cs.number ?? 0, ContainersRunning: cs.running ?? 0, ContainersPaused: cs.paused ?? 0, ContainersStopped: cs.stopped ?? 0,
    Images: i.store?.imageStore?.number ?? 0, Driver: 'overlay', DockerRootDir: r.root, OperatingSystem: platform(), OSType: platform(),
    Architecture: goArch(), KernelVersion: release(), ServerVersion: r.version, Name: 'skiff', NCPU: (await import('node:os')).cpus().length,
    MemTotal: (await import('node:os')).totalmem(), DefaultRuntime: 'runc', Runtimes: { runc: { path: 'runc' } }, CgroupDriver: 'cgroupfs',
    LoggingDriver: 'k8s-file', SecurityOptions: [], Warnings: [], Swarm: { LocalNodeState: 'inactive' }, Plugins: { Volume: ['local'], Network: ['bridge'], Log: ['k8s-file'] },
  });
}
