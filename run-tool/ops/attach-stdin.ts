// Feeding a running container's stdin, and sizing its terminal (Docker's attach with stdin=1: `docker run -i`, `docker attach`, compose's
// stdin_open). A container created with an open stdin runs under conmon with `-i`: conmon holds the stdin and
// writes into it what arrives on its attach socket, a SOCK_SEQPACKET socket Node cannot open — socat bridges.
// When the input ends, socat hangs up and conmon closes the container's stdin: the process reads EOF.
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { SkiffError } from '../../shared/errors.ts';
import { runProgram } from '../../shared/process/run.ts';
import { requireProgram } from '../../shared/process/system-programs.ts';
import { constants } from 'node:fs';
import { access, open } from 'node:fs/promises';
import { join } from 'node:path';
import { containerPaths, loadContainer } from '../containers/state.ts';

/**
 * Pipes `input` into the stdin of container `nameOrId` until `input` ends (then the container's stdin closes) or
 * `signal` aborts. Waits up to `waitMs` for the container's attach socket (a container attached before its start).
 * EINVALID for a container created without an open stdin.
 */
export async function feedContainerStdin(root: string, nameOrId: string, input: Readable, o: { signal?: AbortSignal; waitMs?: number } = {}): Promise<void> {
  const c = await loadContainer(root, nameOrId);
  if (!c.record.config.openStdin) throw new SkiffError('EINVALID', `container ${c.record.name} was created without an open stdin: create it with -i (OpenStdin) to attach its stdin`);
  const socat = requireProgram('socat');
  const bundle = containerPaths(root, c.record.id).bundle;
  const deadline = Date.now() + (o.waitMs ?? 10_000);
  while (!(await access(join(bundle, 'attach')).then(() => true, () => false))) {
    if (Date.now() > deadline || o.signal?.aborted) throw new SkiffError('EINVALID', `container ${c.record.name} has no attach socket: it is not running`);
    await sleep(20);
  }
  // relative to the bundle: the socket's full path may be longer than a unix socket address allows
  await runProgram(socat, ['-u', 'STDIN', 'UNIX-CONNECT:attach,type=5'], { cwd: bundle, input, ...(o.signal && { signal: o.signal }) }).catch((e: unknown) => {
    if (!o.signal?.aborted) throw e;
  });
  if (o.signal?.aborted) return;
  // conmon 2.1 can miss a hang-up that arrives right behind the data (the container then never reads EOF): a
  // second, empty connection hangs up again. Harmless when the stdin is closed already, or the container gone.
  await sleep(100);
  await runProgram(socat, ['-u', 'OPEN:/dev/null', 'UNIX-CONNECT:attach,type=5'], { cwd: bundle }).catch(() => {});
}

/**
 * Sets the terminal size of TTY container `nameOrId` (conmon's control fifo, message `1 H W`). A container without
 * a TTY, or not running, is left alone (Docker ignores those too).
 */
export async function resizeContainerTty(store: { paths: { root: string } }, nameOrId: string, height: number, width: number): Promise<void> {
  const c = await loadContainer(store.paths.root, nameOrId);
  if (!c.record.config.tty || c.state.status !== 'running') return;
  let fh;
  try {
    fh = await open(join(containerPaths(store.paths.root, c.record.id).bundle, 'ctl'), constants.O_WRONLY | constants.O_NONBLOCK);
  } catch {
    return; // no monitor reading its fifo: nothing to resize
  }
  try {
    await fh.write(`1 ${height} ${width}\n`);
  } finally {
    await fh.close();
  }
}
