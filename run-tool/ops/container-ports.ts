import type { Store } from '../../shared/store/store.ts';
import { listContainers, loadContainer } from '../containers/state.ts';

// The port listing operation (podman's `port`): the published ports of one container or of all.

/** One published port: the container's `PORT/PROTO`, where it is published on the host, and whose it is. */
export interface PortMapping {
  /** The container's full ID. */
  id: string;
  /** `80/tcp`. */
  containerPort: string;
  /** `127.0.0.1:8080` (`0.0.0.0` when bound to every address). */
  host: string;
}

/**
 * The port mappings of container `nameOrId`, or of every container with `all`, in binding order; with `port`
 * (`80` or `80/tcp`) only the mappings of that container port.
 */
export async function listPortMappings(store: Store, nameOrId: string | undefined, o: { all?: boolean; port?: string } = {}): Promise<PortMapping[]> {
  const list = o.all ? await listContainers(store.paths.root) : [await loadContainer(store.paths.root, nameOrId ?? '')];
  const out: PortMapping[] = [];
  for (const c of list) {
    for (const b of c.record.hostConfig.portBindings) {
      const key = `${b.containerPort}/${b.protocol}`;
      if (o.port !== undefined && o.port !== key && o.port !== String(b.containerPort)) continue;
      out.push({ id: c.record.id, containerPort: key, host: `${b.hostIP || '0.0.0.0'}:${b.hostPort}` });
    }
  }
  return out;
}
