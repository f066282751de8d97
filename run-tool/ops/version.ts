// The version operation: what `run-tool version` reports, in podman's field names (define.Version).
import { formatPlatform, hostPlatform } from '../../shared/image/platform.ts';

/** podman's define.Version fields, with skiff's values (GoVersion names the Node.js runtime, as the API's /version does). */
export interface VersionFacts {
  APIVersion: string;
  Version: string;
  GoVersion: string;
  GitCommit: string;
  BuiltTime: string;
  Built: number;
  OsArch: string;
  Os: string;
}

/** The running run-tool's version facts (`version`: the bundle's). No build time is recorded: Built is 0, printed as Go's epoch date as Debian's podman does. */
export function versionFacts(version: string): VersionFacts {
  const p = hostPlatform();
  return { APIVersion: version, Version: version, GoVersion: `node ${process.version}`, GitCommit: '', BuiltTime: 'Thu Jan  1 00:00:00 1970', Built: 0, OsArch: formatPlatform({ os: p.os, architecture: p.architecture }), Os: p.os };
}
