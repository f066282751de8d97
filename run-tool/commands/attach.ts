import type { Command } from 'commander';
import { boolOption } from '../../shared/cli/flags.ts';
import { addRootOption } from '../../shared/cli/program.ts';
import { SkiffError } from '../../shared/errors.ts';
import { attachContainer, DEFAULT_DETACH_KEYS, detachDetector, parseDetachKeys } from '../ops/attach-container.ts';
import { killContainer } from '../ops/container-lifecycle.ts';
import { withStore } from './cli-util.ts';

const PROXIED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

/**
 * Adds `attach [--detach-keys K] [--no-stdin] [--sig-proxy=BOOL] CONTAINER` (podman's): the running container's
 * output until it stops (exit 0, as podman 4.3) or the detach keys are typed on a terminal (default ctrl-p,ctrl-q);
 * signals this process gets go to the container unless `--sig-proxy=false`. Containers under run-tool's monitor
 * keep no stdin open, so typed input is not passed on (only the detach keys are looked for).
 */
export function addAttachCommand(program: Command): void {
  const cmd = program.command('attach').description('attach to a running container').argument('[container]')
    .option('--detach-keys <keys>', 'select the key sequence for detaching a container', DEFAULT_DETACH_KEYS)
    .option('--no-stdin', 'do not attach STDIN')
    .option('-l, --latest', 'act on the latest container run-tool is aware of');
  boolOption(cmd, '--sig-proxy', 'proxy received signals to the container (default true)');
  addRootOption(cmd).action(async (name: string | undefined, f: { detachKeys: string; stdin: boolean; latest?: boolean; sigProxy?: boolean }) => {
    const keys = parseDetachKeys(f.detachKeys);
    if (name === undefined && !f.latest) throw new SkiffError('EINVALID', 'you must provide one container name or ID', { hint: 'run-tool attach NAME, or --latest' });
    await withStore(cmd, async (store) => {
      let target = name;
      if (f.latest) {
        const { listContainers } = await import('../ops/list-containers.ts');
        target = (await listContainers(store, { latest: true }))[0]?.record.id;
        if (!target) throw new SkiffError('ENOTFOUND', 'no containers to attach to');
      }
      const ac = new AbortController();
      const tty = f.stdin !== false && process.stdin.isTTY === true && keys.length > 0;
      const detector = detachDetector(keys);
      const onKeys = (b: Buffer): void => {
        if (detector.push(b)) ac.abort();
      };
      if (tty) {
        process.stdin.setRawMode(true);
        process.stdin.on('data', onKeys);
      }
      const forward = (sig: NodeJS.Signals): void => {
        void killContainer(store, target!, { signal: sig.replace(/^SIG/, '') }).catch(() => {});
      };
      const proxy = f.sigProxy !== false;
      if (proxy) for (const s of PROXIED) process.on(s, forward);
      try {
        await attachContainer(store, target!, (es) => {
          for (const e of es) (e.stream === 'stderr' ? process.stderr : process.stdout).write(e.text);
        }, { signal: ac.signal });
      } finally {
        if (proxy) for (const s of PROXIED) process.off(s, forward);
        if (tty) {
          process.stdin.off('data', onKeys);
          process.stdin.setRawMode(false);
          process.stdin.pause();
        }
      }
    });
  });
}
