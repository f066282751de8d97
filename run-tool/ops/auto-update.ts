// The auto-update operation (podman's): containers labelled io.containers.autoupdate=registry|local whose image
// changed (in the registry, or under the same name in the store) are restarted through the systemd unit they run
// in; when the restarted unit fails, the old image gets its name back and the unit is restarted again (rollback).
import { isSkiffError } from '../../shared/errors.ts';
import { lookupImage } from '../../shared/store/lookup.ts';
import type { RegistryOptions } from '../../shared/registry/types.ts';
import type { Store } from '../../shared/store/store.ts';
import { listContainers } from '../containers/state.ts';
import { MANAGER_LABEL, restartUnit, UNIT_LABEL } from '../systemd/systemctl.ts';

/** podman's label selecting a container for auto-update. */
export const AUTO_UPDATE_LABEL = 'io.containers.autoupdate';

/** One row of the report (podman's columns UNIT CONTAINER IMAGE POLICY UPDATED). */
export interface AutoUpdateReport {
  unit: string;
  /** `<id 12> (<name>)` */
  container: string;
  image: string;
  policy: 'registry' | 'local';
  /** true, false, pending (dry run), failed, rolled back */
  updated: 'true' | 'false' | 'pending' | 'failed' | 'rolled back';
}

/** autoUpdate's options. */
export interface AutoUpdateOptions {
  dryRun?: boolean;
  /** restore the old image when the new one fails to start (default true) */
  rollback?: boolean;
  registry?: RegistryOptions;
  /** restarts a unit (default: systemctl); tests and other front ends may pass their own */
  restart?: (unit: string, user: boolean) => Promise<{ ok: boolean; message: string }>;
}

/**
 * Checks every labelled container made inside a unit and restarts the units whose image changed. Errors of one
 * container (no unit, a pull that failed, a bad policy) are returned with the others' reports, podman's way.
 */
export async function autoUpdate(store: Store, o: AutoUpdateOptions = {}): Promise<{ reports: AutoUpdateReport[]; errors: string[] }> {
  const restart = o.restart ?? restartUnit;
  const reports: AutoUpdateReport[] = [];
  const errors: string[] = [];
  const done = new Set<string>();
  for (const c of await listContainers(store.paths.root)) {
    const labels = c.record.config.labels;
    const policy = labels[AUTO_UPDATE_LABEL];
    if (policy === undefined) continue;
    const id12 = c.record.id.slice(0, 12);
    if (policy !== 'registry' && policy !== 'local') {
      errors.push(`container ${id12}: auto-update policy ${JSON.stringify(policy)}: want registry or local`);
      continue;
    }
    const unit = labels[UNIT_LABEL];
    if (!unit) {
      errors.push(`auto-updating container "${c.record.id}": no ${UNIT_LABEL} label found`);
      continue;
    }
    if (done.has(unit)) continue;
    const name = c.record.image.name;
    const row = { unit, container: `${id12} (${c.record.name})`, image: name, policy } as const;
    let current: string;
    try {
      if (policy === 'registry') {
        // a dry run reads the registry's manifest only; an update pulls the image
        const { pullImage, sourceImageId } = await import('./pull-image.ts');
        const po = { ...(o.registry && { registry: o.registry }) };
        current = o.dryRun ? await sourceImageId(store.paths.root, name, po) : (await pullImage(store.paths.root, name, po)).id;
      } else {
        const found = await lookupImage(store.layout, name);
        current = found.id ?? found.descriptor.digest;
      }
    } catch (e) {
      errors.push(`checking image of container ${id12}: ${isSkiffError(e) ? e.message : String(e)}`);
      continue;
    }
    const old = c.record.image.id;
    if (current === old) {
      reports.push({ ...row, updated: 'false' });
      continue;
    }
    if (o.dryRun) {
      reports.push({ ...row, updated: 'pending' });
      continue;
    }
    done.add(unit);
    const user = labels[MANAGER_LABEL] === 'user';
    const r = await restart(unit, user);
    if (r.ok) {
      reports.push({ ...row, updated: 'true' });
      continue;
    }
    if (o.rollback === false) {
      reports.push({ ...row, updated: 'failed' });
      errors.push(`restarting unit ${unit} during auto-update: ${r.message}`);
      continue;
    }
    // the new image failed: give the name back to the old one and bring the unit up on it again
    const { tagImage } = await import('./tag-image.ts');
    await tagImage(store, old, [name]);
    const back = await restart(unit, user);
    reports.push({ ...row, updated: back.ok ? 'rolled back' : 'failed' });
    if (!back.ok) errors.push(`restarting unit ${unit} during rollback: ${back.message}`);
  }
  return { reports, errors };
}
