// The Quadlet-style generator operation: reads .container/.volume/.network/.kube/.pod files (with drop-ins) from
// the search directories, converts each, writes the units into the generator's output directory (each file
// through a temp file and a rename, so two generators at once never leave a half-written unit) with the
// [Install] symlinks systemd's `enable` would make. A file with a problem gives no unit; the others are written.
import { mkdir, readdir, rename, symlink, unlink } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { homedir } from 'node:os';
import { writeFileAtomic } from '../../shared/store/atomic.ts';
import { convertQuadlet, QUADLET_KINDS, serviceNameOf } from '../systemd/quadlet.ts';
import { readUnitFile, type UnitError, type UnitFile } from '../systemd/unit-file.ts';

/** Where Quadlet files are looked for, first wins (podman's; `QUADLET_UNIT_DIRS`, colon-separated, replaces them). Pure. */
export function quadletDirs(user: boolean, env: NodeJS.ProcessEnv = process.env): string[] {
  if (env.QUADLET_UNIT_DIRS) return env.QUADLET_UNIT_DIRS.split(':').filter(Boolean);
  return user ? [join(env.HOME ?? homedir(), '.config/containers/systemd'), '/etc/containers/systemd/users'] : ['/etc/containers/systemd', '/usr/share/containers/systemd'];
}

/** runSystemdGenerator's options. */
export interface SystemdGeneratorOptions {
  dirs: readonly string[];
  /** the generator's normal-priority output directory; undefined for a dry run */
  outDir?: string;
  executable: readonly string[];
  storeRoot: string;
  /** progress lines (`-v`) */
  log?: (m: string) => void;
}

/** What the generator made: the units (name → text) and the problems (`file:line: message`). */
export interface SystemdGeneratorResult {
  units: Map<string, string>;
  errors: UnitError[];
}

/** Converts every Quadlet file found and, with an outDir, writes the units and their [Install] symlinks. */
export async function runSystemdGenerator(o: SystemdGeneratorOptions): Promise<SystemdGeneratorResult> {
  const errors: UnitError[] = [];
  const files = new Map<string, string>();
  for (const d of o.dirs) {
    for (const n of (await readdir(d).catch(() => [] as string[])).sort()) {
      if (!(extname(n) in QUADLET_KINDS) || files.has(n)) continue;
      files.set(n, join(d, n));
    }
  }
  const parsed: UnitFile[] = [];
  for (const path of files.values()) {
    o.log?.(`Loading source unit file ${path}`);
    const errs: UnitError[] = [];
    const f = await readUnitFile(path, errs);
    if (errs.length) errors.push(...errs);
    else parsed.push(f);
  }
  const present = new Set(files.keys());
  const podMembers = new Map<string, string[]>();
  for (const f of parsed.filter((x) => x.path.endsWith('.container'))) {
    const pod = (f.sections.get('Container') ?? []).filter((e) => e.key === 'Pod').at(-1)?.value;
    if (pod) podMembers.set(pod, [...(podMembers.get(pod) ?? []), `${serviceNameOf(f.path)}.service`]);
  }
  const units = new Map<string, string>();
  const installs = new Map<string, string[]>();
  for (const f of parsed) {
    const r = convertQuadlet(f, { executable: o.executable, storeRoot: o.storeRoot, present, podMembers });
    if (r.errors) {
      errors.push(...r.errors);
      continue;
    }
    units.set(r.name, r.text);
    installs.set(r.name, (f.sections.get('Install') ?? []).filter((e) => e.key === 'WantedBy' || e.key === 'RequiredBy').flatMap((e) => e.value.split(/\s+/).filter(Boolean).map((t) => `${t}.${e.key === 'WantedBy' ? 'wants' : 'requires'}`)));
  }
  if (o.outDir !== undefined) {
    await mkdir(o.outDir, { recursive: true });
    for (const [name, text] of units) {
      o.log?.(`Writing ${join(o.outDir, name)}`);
      await writeFileAtomic(join(o.outDir, name), text);
      for (const dir of installs.get(name) ?? []) await linkAtomic(`../${name}`, join(o.outDir, dir, name));
    }
  }
  return { units, errors };
}

async function linkAtomic(target: string, path: string): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  const tmp = join(path, '..', `.${basename(path)}.${process.pid}.tmp`);
  await unlink(tmp).catch(() => {});
  await symlink(target, tmp);
  await rename(tmp, path);
}
