import type { Command } from 'commander';
import { addRootOption } from '../../shared/cli/program.ts';
import { checkContainerHealth } from '../ops/health-check.ts';
import { withStore } from './cli-util.ts';

/**
 * Adds `healthcheck run CONTAINER` (podman's): runs the container's health check once and records it; prints the
 * status and exits 1 when it is not healthy (`unhealthy`, or `starting` in the start period), 0 and nothing when
 * healthy, 125 when the container has no health check or is not running. The per-container timer calls it.
 */
export function addHealthcheckCommand(program: Command): void {
  const hc = program.command('healthcheck').description('manage health checks on containers');
  const cmd = hc.command('run').description('run the health check of a container').argument('<container>');
  addRootOption(cmd).action(async (name: string) => {
    await withStore(cmd, async (store) => {
      const r = await checkContainerHealth(store, name);
      if (r.status !== 'healthy') {
        process.stdout.write(`${r.status}\n`);
        process.exitCode = 1;
      }
    });
  });
}
