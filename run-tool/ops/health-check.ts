import type { Cancellable } from '../../shared/errors.ts';
import type { Store } from '../../shared/store/store.ts';
import { runHealthcheck, type HealthResult } from '../containers/health.ts';

// The health check operation (podman's `healthcheck run`); the per-container timer runs it too.

/**
 * Runs the health check of running container `nameOrId` once and records the result (runHealthcheck's
 * contract: EINVALID without a health check, exit status 125 when not running).
 */
export async function checkContainerHealth(store: Store, nameOrId: string, o: Cancellable = {}): Promise<HealthResult> {
  return await runHealthcheck(store, nameOrId, o);
}
