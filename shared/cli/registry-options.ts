import type { Command } from 'commander';
import { boolOption } from './flags.ts';
import { parseCredentials } from './credentials-flag.ts';
import { printRetryNotice } from './retry-notice.ts';
import type { RegistryOptions } from '../registry/types.ts';



/** Adds podman's registry flags of pull/push-like commands: `--authfile`, `--creds`, `--cert-dir`, `--tls-verify`. */
export function addRegistryOptions(cmd: Command): Command {
  cmd
    .option('--authfile <path>', 'path of the authentication file')
    .option('--creds <user[:password]>', 'use USERNAME[:PASSWORD] for accessing the registry')
    .option('--cert-dir <path>', 'use certificates at PATH (*.crt, *.cert, *.key) to connect to the registry');
  return boolOption(cmd, '--tls-verify', 'require HTTPS and verify certificates when contacting registries');
}

/** RegistryOptions from the flags addRegistryOptions added (validates --creds; retries are said on stderr, as podman). */
export function registryOptionsOf(o: { authfile?: string; creds?: string; certDir?: string; tlsVerify?: boolean }): RegistryOptions {
  const out: RegistryOptions = {};
  if (o.creds !== undefined) out.credentials = parseCredentials(o.creds);
  if (o.authfile) out.authFile = o.authfile;
  if (o.certDir) out.certDir = o.certDir;
  if (o.tlsVerify !== undefined) out.tlsVerify = o.tlsVerify;
  out.onRetry = printRetryNotice;
  return out;
}
