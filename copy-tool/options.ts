import type { Command } from 'commander';
import { boolOption } from '../shared/cli/flags.ts';
import { SkiffError } from '../shared/errors.ts';
import { parseCredentials } from '../shared/cli/credentials-flag.ts';
import { printRetryNotice } from '../shared/cli/retry-notice.ts';
import type { RegistryOptions } from '../shared/registry/types.ts';
import type { TransportContext } from '../shared/transport/open.ts';
import { addRootOption, storeRootOf } from '../shared/cli/program.ts';
import { loadPolicy, type Policy } from '../shared/signature/policy.ts';
import { interruptSignal } from '../shared/cli/interrupt.ts';

export { boolOption };

/** The registry options of one image argument (inspect, delete, list-tags): `--creds`, `--tls-verify`, …. */
export function addImageOptions(cmd: Command): Command {
  addRootOption(cmd)
    .option('--authfile <path>', 'path of the authentication file (default ${XDG_RUNTIME_DIR}/containers/auth.json)')
    .option('--creds <user[:password]>', 'use USERNAME[:PASSWORD] for accessing the registry')
    .option('--username <user>', 'username for accessing the registry')
    .option('--password <password>', 'password for accessing the registry')
    .option('--no-creds', 'access the registry anonymously')
    .option('--cert-dir <path>', 'use certificates at PATH (*.crt, *.cert, *.key) to connect to the registry')
    .option('--retry-times <n>', 'the number of times to retry', (v) => Number.parseInt(v, 10));
  return boolOption(cmd, '--tls-verify', 'require HTTPS and verify certificates when talking to the registry');
}

/** The per-side registry options of copy and sync: `--src-creds`, `--dest-tls-verify`, …. */
export function addCopyOptions(cmd: Command): Command {
  addRootOption(cmd).option('--authfile <path>', 'path of the authentication file for both sides');
  for (const side of ['src', 'dest'] as const) {
    cmd
      .option(`--${side}-authfile <path>`, `authentication file for the ${side === 'src' ? 'source' : 'destination'}`)
      .option(`--${side}-creds <user[:password]>`, `credentials for the ${side === 'src' ? 'source' : 'destination'} registry`)
      .option(`--${side}-username <user>`, `username for the ${side === 'src' ? 'source' : 'destination'} registry`)
      .option(`--${side}-password <password>`, `password for the ${side === 'src' ? 'source' : 'destination'} registry`)
      .option(`--${side}-no-creds`, `access the ${side === 'src' ? 'source' : 'destination'} registry anonymously`)
      .option(`--${side}-cert-dir <path>`, `certificates for the ${side === 'src' ? 'source' : 'destination'} registry`);
    boolOption(cmd, `--${side}-tls-verify`, `require HTTPS and verify certificates for the ${side === 'src' ? 'source' : 'destination'}`);
  }
  return cmd.option('--retry-times <n>', 'the number of times to retry', (v) => Number.parseInt(v, 10));
}

type Opts = Record<string, unknown>;
const camel = (s: string): string => s.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());

/**
 * RegistryOptions for one side (`undefined` for single-image commands) from the parsed flags and globals:
 * side-specific flags win over the shared ones, `--creds` over `--username/--password`.
 */
export function registryOptionsOf(cmd: Command, side?: 'src' | 'dest'): RegistryOptions {
  const o = cmd.optsWithGlobals() as Opts;
  const get = (name: string): unknown => (side ? (o[camel(`${side}-${name}`)] ?? (name === 'authfile' ? o.authfile : undefined)) : o[camel(name)]);
  const out: RegistryOptions = {};
  const creds = get('creds') as string | undefined;
  const user = get('username') as string | undefined;
  const noCreds = side ? o[camel(`${side}-no-creds`)] === true : o.creds === false;
  if (typeof creds === 'string') out.credentials = parseCredentials(creds);
  else if (user !== undefined) out.credentials = { username: user, password: (get('password') as string | undefined) ?? '' };
  if (noCreds && out.credentials) throw new SkiffError('EINVALID', '--no-creds cannot be combined with credentials');
  const authFile = get('authfile') as string | undefined;
  if (authFile) out.authFile = authFile;
  const tls = get('tls-verify') as boolean | undefined;
  if (tls !== undefined) out.tlsVerify = tls;
  const certDir = get('cert-dir') as string | undefined;
  if (certDir) out.certDir = certDir;
  if (typeof o.registriesConf === 'string') out.registriesConf = o.registriesConf;
  if (typeof o.retryTimes === 'number' && Number.isFinite(o.retryTimes)) out.retryTimes = o.retryTimes;
  if (o.debug === true) out.debug = (line) => process.stderr.write(`DEBU[0000] ${line}\n`);
  out.onRetry = printRetryNotice;
  return out;
}

/** The transport context for one side: store root, registry options, registries.d, the command's abort signal. */
export function transportContext(cmd: Command, signal: AbortSignal, side?: 'src' | 'dest'): TransportContext {
  const tmpDir = tmpDirOf(cmd);
  const registriesDirs = registriesDirsOf(cmd);
  return { storeRoot: storeRootOf(cmd), registry: registryOptionsOf(cmd, side), signal, tmpDir, registriesDirs };
}

/** The global `--registries.d DIR` as the list of registries.d directories to read (undefined: the defaults). */
export function registriesDirsOf(cmd: Command): string[] | undefined {
  const d = (cmd.optsWithGlobals() as Opts)['registries.d'];
  return typeof d === 'string' && d !== '' ? [d] : undefined;
}

/** A `--debug` line writer (stderr, skopeo's DEBU prefix), or undefined without --debug. */
export function debugOf(cmd: Command): ((line: string) => void) | undefined {
  return (cmd.optsWithGlobals() as Opts).debug === true ? (line) => void process.stderr.write(`DEBU[0000] ${line}\n`) : undefined;
}

/**
 * The trust policy of a command: global `--insecure-policy` (accept anything), `--policy FILE`, else the user's
 * or the system policy.json, else accept anything (said under --debug). Loaded once per command.
 */
export async function policyOf(cmd: Command, signal?: AbortSignal): Promise<Policy> {
  const o = cmd.optsWithGlobals() as Opts;
  const debug = debugOf(cmd);
  const p = await loadPolicy({ ...(typeof o.policy === 'string' ? { path: o.policy } : {}), insecure: o.insecurePolicy === true, debug, signal });
  // loadPolicy itself says which file it read, or that there is none
  if (o.insecurePolicy === true) debug?.('policy checks disabled (--insecure-policy)');
  return p;
}

/** The global `--tmpdir` (where archives are unpacked and recompressed layers spooled), else $TMPDIR's default. */
export function tmpDirOf(cmd: Command): string | undefined {
  const t = (cmd.optsWithGlobals() as Opts).tmpdir;
  return typeof t === 'string' && t !== '' ? t : undefined;
}

/**
 * An AbortSignal for one command: aborted by SIGINT/SIGTERM (Ctrl-C cancels cleanly) and by the global
 * `--command-timeout` (Go duration: 90s, 5m, 1h30m). `dispose()` removes the handlers.
 */
export function commandSignal(cmd: Command): { signal: AbortSignal; dispose: () => void } {
  const interrupt = interruptSignal();
  const timeout = (cmd.optsWithGlobals() as Opts).commandTimeout as string | undefined;
  let timer: NodeJS.Timeout | undefined;
  if (timeout) {
    const ms = parseGoDuration(timeout);
    timer = setTimeout(() => interrupt.abort(new SkiffError('EABORT', `command timed out after ${timeout}`)), ms);
    timer.unref();
  }
  return {
    signal: interrupt.signal,
    dispose: () => {
      interrupt.dispose();
      if (timer) clearTimeout(timer);
    },
  };
}

/** Parses a Go duration (`1h30m`, `90s`, `500ms`) to milliseconds; EINVALID otherwise. */
export function parseGoDuration(s: string): number {
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let pos = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    total += Number(m[1]) * units[m[2]!]!;
    pos = re.lastIndex;
  }
  if (s === '' || pos !== s.length) throw new SkiffError('EINVALID', `invalid duration ${JSON.stringify(s)}: use e.g. 90s, 5m or 1h30m`);
  return total;
}
