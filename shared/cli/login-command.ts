import { Option, type Command } from 'commander';
import { SkiffError } from '../errors.ts';
import { login, logout, lookupCredentials } from '../registry/credentials.ts';
import { checkLogin } from '../registry/repository.ts';
import { isValidRegistry } from '../ref/reference.ts';
import type { ToolName } from './exit-codes.ts';
import { interruptSignal } from './interrupt.ts';
import { parseBool } from './flags.ts';

async function readStdin(): Promise<string> {
  let s = '';
  for await (const c of process.stdin) s += c;
  return s.replace(/\r?\n$/, '');
}

/** The registry host of a `login`/`logout` argument (a `docker://` prefix and any path are ignored, as podman does). */
export function registryOfLoginArg(arg: string): string {
  const host = arg.replace(/^docker:\/\//, '').split('/')[0] ?? '';
  if (!isValidRegistry(host)) throw new SkiffError('EINVALID', `invalid registry ${JSON.stringify(arg)}`, { hint: 'e.g. 127.0.0.1:5000' });
  return host;
}

/**
 * Adds podman's/skopeo's `login [-u USER] [-p PASS | --password-stdin] [--authfile F] [--tls-verify[=BOOL]]
 * [--cert-dir D] [--get-login] [-v] REGISTRY` and `logout [-a] [--authfile F] [REGISTRY]` to a tool. One
 * implementation for copy-tool and run-tool. login verifies the credentials against the registry's `/v2/`
 * before anything is written; the auth file is replaced atomically (0600). `--get-login` prints the stored
 * username (ENOTFOUND when not logged in). A global `--registries-conf` on the program is honoured.
 */
export function addLoginCommands(program: Command, o: { tool?: ToolName } = {}): void {
  const tool = o.tool ?? 'copy-tool';
  const lc = program
    .command('login')
    .description('log in to a container registry')
    .argument('<registry>', 'registry host[:port]')
    .option('-u, --username <user>', 'username')
    .option('-p, --password <password>', 'password')
    .option('--password-stdin', 'read the password from standard input')
    .option('--authfile <path>', 'path of the authentication file')
    .option('--cert-dir <path>', 'use certificates at PATH to connect to the registry')
    .option('--get-login', 'print the username stored for the registry')
    .option('-v, --verbose', 'print the authentication file used')
    .addOption(new Option('--tls-verify [bool]', 'require HTTPS and verify certificates').argParser(parseBool));
  lc.action(
    async (arg: string, a: { username?: string; password?: string; passwordStdin?: boolean; authfile?: string; certDir?: string; tlsVerify?: boolean; verbose?: boolean; getLogin?: boolean }) => {
      const registry = registryOfLoginArg(arg);
      if (a.getLogin) {
        const c = await lookupCredentials(registry, '', a.authfile ? { authFile: a.authfile } : {});
        if (!c) throw new SkiffError('ENOTFOUND', `not logged into ${registry}`);
        process.stdout.write(`${c.username}\n`);
        return;
      }
      const registriesConf = (lc.optsWithGlobals() as { registriesConf?: string }).registriesConf;
      if (a.password !== undefined && a.passwordStdin) throw new SkiffError('EINVALID', 'cannot use both --password and --password-stdin');
      if (a.username === undefined) throw new SkiffError('EINVALID', 'login needs a username (-u)', { hint: `${tool} login -u USER --password-stdin REGISTRY` });
      const password = a.passwordStdin ? await readStdin() : a.password;
      if (password === undefined) throw new SkiffError('EINVALID', 'login needs a password (-p or --password-stdin)');
      const creds = { username: a.username, password };
      const { signal, dispose } = interruptSignal();
      try {
        const file = await login(registry, creds, {
          authFile: a.authfile,
          // ping /v2/ with the credentials (no repository scope), as podman login does
          verify: () =>
            checkLogin(registry, creds, {
              tlsVerify: a.tlsVerify,
              ...(a.certDir ? { certDir: a.certDir } : {}),
              ...(registriesConf ? { registriesConf } : {}),
              signal,
            }),
        });
        if (a.verbose) process.stdout.write(`Used: ${file}\n`);
        process.stdout.write('Login Succeeded!\n');
      } finally {
        dispose();
      }
    },
  );
  program
    .command('logout')
    .description('log out of a container registry')
    .argument('[registry]', 'registry host[:port]')
    .option('-a, --all', 'remove the credentials of every registry')
    .option('--authfile <path>', 'path of the authentication file')
    .action(async (arg: string | undefined, a: { all?: boolean; authfile?: string }) => {
      if (!a.all && arg === undefined) throw new SkiffError('EINVALID', 'logout needs a registry or --all');
      const registry = a.all ? undefined : registryOfLoginArg(arg!);
      const co = a.authfile ? { authFile: a.authfile } : {};
      await logout(registry, co);
      process.stdout.write(registry ? `Removed login credentials for ${registry}\n` : `Removed login credentials for all registries\n`);
    });
}
