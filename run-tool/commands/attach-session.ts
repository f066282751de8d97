// The terminal side of attaching (podman's `attach`, `start -a`): this process's stdin passed to the container,
// the detach keys looked for while a person types, the terminal in raw mode for a TTY container (restored on every
// way out), its size kept in step (SIGWINCH), and signals proxied to the container.
import { constants as osConstants } from 'node:os';
import { PassThrough } from 'node:stream';
import { rawTerminal } from '../../shared/process/terminal-mode.ts';
import type { Store } from '../../shared/store/store.ts';
import { attachContainer, attachTarget, detachFilter } from '../ops/attach-container.ts';
import type { LogEntry } from '../ops/container-logs.ts';
import { resizeContainerTty } from '../ops/attach-stdin.ts';
import { killContainer } from '../ops/container-lifecycle.ts';
import { startAttached } from '../ops/start-attached.ts';

const PROXIED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

/** attachSession's options (the flags `attach` and `start -a` share). */
export interface AttachSessionOptions {
  /** Detach sequence as parsed by parseDetachKeys (empty: none). */
  keys: number[];
  /** Pass this process's stdin on (`attach` without --no-stdin, `start -i`). */
  stdin: boolean;
  /** Proxy the signals this process gets to the container (podman's --sig-proxy, default true). */
  sigProxy: boolean;
  /** `start -a`: start the container first and attach to this run (startAttached: its whole output, its exit code). */
  start?: boolean;
}

/**
 * Attaches this terminal to the running container `nameOrId` (with `start`: starts it, then attaches) until it stops
 * or the detach keys are typed (or, without the proxy, a signal comes); returns whether it was detached and, with
 * `start`, the container's exit code. With `stdin`, this process's input goes to the container when it was created
 * with -i (else it is read only for the detach keys, as podman does); its end closes the container's stdin. The
 * detach keys are looked for only when stdin is a terminal (piped data is passed as it is). A TTY container with a
 * terminal on stdin puts it in raw mode, restored however this ends (an error, a signal, process exit), and its
 * size follows this terminal's. Without the proxy, a signal detaches (named in `endedBy`; exit status podman 4.3's:
 * SIGTERM 0, SIGINT 1, others 128+n) instead of killing this process with the terminal left raw.
 */
export async function attachSession(store: Store, nameOrId: string, o: AttachSessionOptions): Promise<{ id: string; detached: boolean; exitCode?: number; endedBy?: NodeJS.Signals }> {
  const t = await attachTarget(store, nameOrId, { justStarted: o.start === true });
  const stdin = process.stdin;
  const typed = o.stdin && stdin.isTTY === true;
  const raw = typed && t.tty;
  const ac = new AbortController();
  const input = o.stdin && t.openStdin ? new PassThrough() : undefined;
  const filter = detachFilter(typed ? o.keys : []);
  const onData = (b: Buffer): void => {
    const { pass, detached } = filter.push(b);
    if (pass.length > 0) input?.write(pass);
    if (detached) ac.abort();
  };
  const onEnd = (): void => void input?.end();
  let restore = (): void => {};
  const term = process.stdout.isTTY ? process.stdout : process.stderr.isTTY ? process.stderr : undefined;
  // resizes go to the monitor one after another, each with the size the terminal has when it is sent, so two
  // quick SIGWINCHes (stty setting columns, then rows) never land in the wrong order
  let resizing = Promise.resolve();
  const resize = (): void => {
    if (!term) return;
    resizing = resizing.then(() => {
      const [w, h] = term.getWindowSize();
      return resizeContainerTty(store, t.id, h, w).catch(() => {});
    });
  };
  const forward = (sig: NodeJS.Signals): void => {
    void killContainer(store, t.id, { signal: sig.replace(/^SIG/, '') }).catch(() => {});
  };
  let endedBy: NodeJS.Signals | undefined;
  const endOnSignal = (sig: NodeJS.Signals): void => {
    // podman 4.3's exit statuses here: SIGTERM 0, SIGINT 1, the others the signal's
    process.exitCode = sig === 'SIGTERM' ? 0 : sig === 'SIGINT' ? 1 : 128 + (osConstants.signals[sig] ?? 0);
    endedBy = sig;
    ac.abort();
  };
  const onSignal = o.sigProxy ? forward : endOnSignal;
  const restoreOnExit = (): void => restore();
  try {
    for (const s of PROXIED) process.on(s, onSignal);
    process.on('exit', restoreOnExit);
    if (o.stdin) {
      stdin.on('data', onData);
      stdin.on('end', onEnd);
    }
    if (raw) restore = rawTerminal(stdin);
    if (t.tty && term) {
      resize();
      term.on('resize', resize);
    }
    const write = (es: LogEntry[]): void => {
      for (const e of es) (e.stream === 'stderr' ? process.stderr : process.stdout).write(e.text);
    };
    const ao = { signal: ac.signal, ...(input && { stdin: input }) };
    const r = o.start ? await startAttached(store, t.id, write, ao) : await attachContainer(store, t.id, write, ao);
    return { ...r, ...(endedBy && { endedBy }) };
  } finally {
    restore();
    process.off('exit', restoreOnExit);
    for (const s of PROXIED) process.off(s, onSignal);
    term?.off('resize', resize);
    if (o.stdin) {
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      stdin.pause();
    }
  }
}
