import type { Command } from 'commander';
import { addRootOption, storeRootOf, VERSION } from '../../shared/cli/program.ts';
import { parseByteSize } from '../../shared/cli/units.ts';
import { SkiffError } from '../../shared/errors.ts';
import { listenTarget, serveApi } from '../api/service.ts';

/**
 * Adds `system service [-t SECONDS] [URI]` (podman's): the Docker-compatible API on a unix socket (default
 * /run/skiff/skiff.sock for root, $XDG_RUNTIME_DIR/skiff/skiff.sock otherwise), the LISTEN_FDS sockets, or a
 * tcp:// URI given explicitly. `--max-load-size` bounds a POST /images/load archive. Exits after SECONDS idle (default 5; 0 never), or on SIGTERM/SIGINT.
 */
export function addSystemServiceCommand(program: Command): void {
  const system = program.commands.find((c) => c.name() === 'system') ?? program.command('system').description('manage skiff');
  const cmd = system
    .command('service')
    .description('serve the Docker-compatible API (for docker-compose, the docker CLI and Docker SDKs)')
    .argument('[uri]', 'unix:///PATH or tcp://HOST:PORT')
    .option('-t, --time <seconds>', 'exit after this many seconds without a connection (0: never)', '5')
    .option('--max-load-size <size>', 'largest image archive POST /images/load accepts (e.g. 512m, 8g)', '8g');
  addRootOption(cmd).action(async (uri: string | undefined, a: { time: string; maxLoadSize: string }) => {
    if (!/^[0-9]+$/.test(a.time)) throw new SkiffError('EINVALID', `invalid --time ${JSON.stringify(a.time)}: want a whole number of seconds`);
    const maxLoadBytes = parseByteSize(a.maxLoadSize, '--max-load-size');
    const ac = new AbortController();
    const stop = (): void => ac.abort();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    await serveApi({ root: storeRootOf(cmd), version: VERSION, target: listenTarget(uri), idleSeconds: Number(a.time), maxLoadBytes, signal: ac.signal, onWarning: (m) => void process.stderr.write(`WARNING: ${m}\n`) });
  });
}
