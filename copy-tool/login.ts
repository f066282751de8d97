import type { Command } from 'commander';
import { SkiffError } from '../shared/errors.ts';
import { login, logout } from '../shared/registry/credentials.ts';
import { openRepository } from '../shared/registry/repository.ts';
import { boolOption, commandSignal } from './options.ts';
import { isValidRegistry } from '../shared/ref/reference.ts';

async function readStdin(): Promise<string> {
  let s = '';
  for await (const c of process.stdin) s += c;
  return s.replace(/\r?\n$/, '');
}

/** The registry host of a `login`/`logout` argument (a `docker://` prefix and any path are ignored, as podman does). */
function registryOf(arg: string): string {
  const host = arg.replace(/^docker:\/\//, '').split('/')[0] ?? '';
  if (!isValidRegistry(host)) throw new SkiffError('EINVALID', `invalid registry ${JSON.stringify(arg)}`, { hint: 'e.g. 127.0.0.1:5000' });
  return host;
}

/** `login [-u USER] [-p PASS | --password-stdin] [--authfile F] [--tls-verify] [--cert-dir D] REGISTRY` and `logout [--all] [REGISTRY]`. */
export function addLoginCommands(program: Command): void {
  const lc = program
    .command('login')
    .description('log in to a container registry')
    .argument('<registry>', 'registry host[:port]')
    .option('-u, --username <user>', 'username')
    .option('-p, --password <password>', 'password')
    .option('--password-stdin', 'read the password from standard input')
    .option('--authfile <path>', 'path of the authentication file')
    .option('--cert-dir <path>', 'use certificates at PATH to connect to the registry')
    .option('-v, --verbose', 'print the authentication file used');
  boolOption(lc, '--tls-verify', 'require HTTPS and verify certificates').action(
    async (arg: string, o: { username?: string; password?: string; passwordStdin?: boolean; authfile?: string; certDir?: string; tlsVerify?: boolean; verbose?: boolean }) => {
      const registry = registryOf(arg);
      if (o.password !== undefined && o.passwordStdin) throw new SkiffError('EINVALID', 'cannot use both --password and --password-stdin');
      if (o.username === undefined) throw new SkiffError('EINVALID', 'login needs a username (-u)', { hint: 'copy-tool login -u USER --password-stdin REGISTRY' });
      const password = o.passwordStdin ? await readStdin() : o.password;
      if (password === undefined) throw new SkiffError('EINVALID', 'login needs a password (-p or --password-stdin)');
      const creds = { username: o.username, password };
      const { signal, dispose } = commandSignal(lc);
      try {
        const file = await login(registry, creds, {
          ...(o.authfile ? { authFile: o.authfile } : {}),
          verify: async () => {
            const repo = openRepository(registry, '', { credentials: creds, ...(o.tlsVerify !== undefined ? { tlsVerify: o.tlsVerify } : {}), ...(o.certDir ? { certDir: o.certDir } : {}) });
            await repo.ping({ signal });
          },
        });
        if (o.verbose) process.stdout.write(`Used: ${file}\n`);
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
    .action(async (arg: string | undefined, o: { all?: boolean; authfile?: string }) => {
      if (!o.all && arg === undefined) throw new SkiffError('EINVALID', 'logout needs a registry or --all');
      const registry = o.all ? undefined : registryOf(arg!);
      await logout(registry, o.authfile ? { authFile: o.authfile } : {});
      process.stdout.write(registry ? `Removed login credentials for ${registry}\n` : 'Removed login credentials for all registries\n');
    });
}
