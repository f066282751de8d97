import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Archive names (no leading `/`) of the mount destinations in the runtime config of `bundle`; an empty set when
 * the bundle has no readable config. Read-only.
 */
export async function mountTargets(bundle: string): Promise<Set<string>> {
  try {
    const spec = JSON.parse(await readFile(join(bundle, 'config.json'), 'utf8')) as { mounts?: { destination?: string }[] };
    return new Set((spec.mounts ?? []).map((m) => (m.destination ?? '').replace(/^\/+/, '')).filter((d) => d !== ''));
  } catch {
    return new Set();
  }
}
