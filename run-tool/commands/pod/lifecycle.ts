import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { addRootOption } from '../../../shared/cli/program.ts';
import { exitCodeOf } from '../../../shared/cli/exit-codes.ts';
import { formatReport } from '../../../shared/cli/go-template.ts';
import { isSkiffError, SkiffError } from '../../../shared/errors.ts';
import type { Store } from '../../../shared/store/store.ts';
import { exitError } from '../../containers/exit-status.ts';
import { inspectPod, killPod, listPods, pausePod, podExists, prunePods, removePod, restartPod, startPod, stopPod, type PodErrors } from '../../ops/pods.ts';
import { withStore } from '../cli-util.ts';

/** Runs `fn` per pod as podman does: each failure printed, the last one's exit code kept; a pod's container errors print after its id. */
async function eachPod(names: readonly string[], verb: string, fn: (name: string) => Promise<PodErrors | { id: string } | undefined>, o: { missingExit?: number } = {}): Promise<void> {
  for (const n of names) {
    try {
      const r = await fn(n);
      if (!r) continue;
      const errors = 'errors' in r ? r.errors : [];
      if (errors.length === 0) process.stdout.write(`${r.id}\n`);
      for (const e of errors) {
        process.stderr.write(`Error: ${verb} container ${e.container}: ${e.message}\n`);
        process.exitCode = 125;
      }
    } catch (e) {
      process.stderr.write(`Error: ${(e as Error).message}\n`);
      process.exitCode = isSkiffError(e, 'ENOTFOUND') && o.missingExit !== undefined ? o.missingExit : exitCodeOf('run-tool', e);
    }
  }
}

async function targets(store: Store, names: string[], all: boolean | undefined, latest?: boolean): Promise<string[]> {
  if (all || latest) {
    const ids = (await listPods(store)).map((v) => v.record.id);
    return latest ? ids.slice(-1) : ids;
  }
  if (names.length === 0) throw new SkiffError('EINVALID', 'you must provide at least one name or id');
  return names;
}

function seconds(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new SkiffError('EINVALID', `invalid ${flag} ${JSON.stringify(v)}: expected a number of seconds`);
  return n;
}

/** Adds `pod start|stop|restart|kill|pause|unpause|rm|exists|prune|inspect` (podman 4.3's flags, output and exit codes). */
export function addPodLifecycleCommands(pod: Command): void {
  const start = pod.command('start').description('start one or more pods').argument('[pods...]')
    .option('-a, --all', 'start all pods').option('-l, --latest', 'act on the latest pod');
  addRootOption(start).action(async (names: string[], f: { all?: boolean; latest?: boolean }) => {
    await withStore(start, async (store) => eachPod(await targets(store, names, f.all, f.latest), 'starting', (n) => startPod(store, n)));
  });

  const stop = pod.command('stop').description('stop one or more pods').argument('[pods...]')
    .option('-a, --all', 'stop all pods').option('-l, --latest', 'act on the latest pod')
    .option('-i, --ignore', 'ignore errors when a specified pod is missing')
    .option('-t, --time <seconds>', 'seconds to wait for pod stop before killing the container');
  addRootOption(stop).action(async (names: string[], f: { all?: boolean; latest?: boolean; ignore?: boolean; time?: string }) => {
    const timeout = seconds(f.time, '--time');
    await withStore(stop, async (store) => eachPod(await targets(store, names, f.all, f.latest), 'stopping', async (n) => {
      try {
        return await stopPod(store, n, { ...(timeout !== undefined && { timeout }), onWarning: (m) => process.stderr.write(`Error: ${m}\n`) });
      } catch (e) {
        if (f.ignore && isSkiffError(e, 'ENOTFOUND')) return undefined;
        throw e;
      }
    }));
  });

  const restart = pod.command('restart').description('restart one or more pods').argument('[pods...]')
    .option('-a, --all', 'restart all pods').option('-l, --latest', 'act on the latest pod');
  addRootOption(restart).action(async (names: string[], f: { all?: boolean; latest?: boolean }) => {
    await withStore(restart, async (store) => eachPod(await targets(store, names, f.all, f.latest), 'restarting', (n) => restartPod(store, n)));
  });

  const kill = pod.command('kill').description('send the specified signal or SIGKILL to containers in a pod').argument('[pods...]')
    .option('-a, --all', 'kill all pods').option('-l, --latest', 'act on the latest pod')
    .option('-s, --signal <signal>', 'signal to send to the containers in the pod', 'KILL');
  addRootOption(kill).action(async (names: string[], f: { all?: boolean; latest?: boolean; signal: string }) => {
    await withStore(kill, async (store) => eachPod(await targets(store, names, f.all, f.latest), 'killing', (n) => killPod(store, n, { signal: f.signal })));
  });

  const rm = pod.command('rm').description('remove one or more stopped pods and containers').argument('[pods...]')
    .option('-a, --all', 'remove all running pods').option('-l, --latest', 'act on the latest pod')
    .option('-f, --force', 'stop running containers and delete all stopped containers before removal of pod')
    .option('-i, --ignore', 'ignore errors when a specified pod is missing')
    .option('--pod-id-file <file>', 'read the pod ID from the file', (v: string, p: string[] = []) => [...p, v], [] as string[])
    .option('-t, --time <seconds>', 'seconds to wait for pod stop before killing the container', '10');
  addRootOption(rm).action(async (names: string[], f: { all?: boolean; latest?: boolean; force?: boolean; ignore?: boolean; podIdFile: string[]; time: string }) => {
    const timeout = seconds(f.time, '--time');
    const { readFileSync } = await import('node:fs');
    const fromFiles = f.podIdFile.map((p) => readFileSync(p, 'utf8').trim());
    await withStore(rm, async (store) => eachPod(await targets(store, [...names, ...fromFiles], f.all, f.latest), 'removing', (n) =>
      removePod(store, n, { force: f.force === true, ...(timeout !== undefined && { timeout }), ignoreMissing: f.ignore === true, onWarning: (m) => process.stderr.write(`Error: ${m}\n`) }), { missingExit: 1 }));
  });

  for (const [verb, paused, what] of [['pause', true, 'pausing'], ['unpause', false, 'unpausing']] as const) {
    const c = pod.command(verb).description(`${verb} one or more pods`).argument('[pods...]')
      .option('-a, --all', `${verb} all pods`).option('-l, --latest', 'act on the latest pod');
    addRootOption(c).action(async (names: string[], f: { all?: boolean; latest?: boolean }) => {
      await withStore(c, async (store) => eachPod(await targets(store, names, f.all, f.latest), what, (n) => pausePod(store, n, paused)));
    });
  }

  const exists = pod.command('exists').description('check if a pod exists in local storage').argument('<pod>');
  addRootOption(exists).action(async (name: string) => {
    await withStore(exists, async (store) => {
      if (!(await podExists(store, name))) process.exitCode = 1;
    });
  });

  const prune = pod.command('prune').description('remove all stopped pods and their containers')
    .option('-f, --force', 'do not prompt for confirmation');
  addRootOption(prune).action(async (f: { force?: boolean }) => {
    if (!f.force) {
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      const a = await rl.question('WARNING! This will remove all stopped/exited pods..\nAre you sure you want to continue? [y/N] ');
      rl.close();
      if (!/^y(es)?$/i.test(a.trim())) return;
    }
    await withStore(prune, async (store) => {
      for (const id of await prunePods(store, { onWarning: (m) => process.stderr.write(`Error: ${m}\n`) })) process.stdout.write(`${id}\n`);
    });
  });

  const inspect = pod.command('inspect').description('display a pod configuration').argument('<pod>')
    .option('-f, --format <format>', 'format the output to a Go template or json')
    .option('-l, --latest', 'act on the latest pod');
  addRootOption(inspect).action(async (name: string, f: { format?: string }) => {
    await withStore(inspect, async (store) => {
      let data: Record<string, unknown>;
      try {
        data = await inspectPod(store, name);
      } catch (e) {
        if (!isSkiffError(e, 'ENOTFOUND')) throw e;
        process.stdout.write('[]\n'); // podman 4.3 prints an empty list before the error
        throw exitError(125, `inspecting object: no such pod ${name}`);
      }
      if (f.format !== undefined && f.format !== 'json') process.stdout.write(formatReport(f.format, [data], { name: 'inspect' }));
      else process.stdout.write(`${JSON.stringify(data, null, 5)}\n`);
    });
  });
}
