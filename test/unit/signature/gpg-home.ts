import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A throw-away GnuPG home with one key; never touches the user's keyring. */
export interface TestGpgHome {
  home: string;
  fingerprint: string;
  run(args: string[], input?: string | Uint8Array, env?: Record<string, string>): Buffer;
  exportPublic(path: string): void;
  exportSecret(path: string): void;
  kill(): void;
}

/** Makes a GnuPG home under `dir/name` with a key `name <name@example.invalid>` (ed25519 unless `algo`). */
export function makeGpgHome(dir: string, name: string, o: { algo?: string; fakedTime?: string; expire?: string } = {}): TestGpgHome {
  const home = join(dir, name);
  mkdirSync(home, { mode: 0o700 });
  const run = (args: string[], input?: string | Uint8Array, env: Record<string, string> = {}): Buffer =>
    execFileSync('gpg', ['--batch', '--no-tty', '--homedir', home, ...args], { input: input ?? '', env: { ...process.env, GNUPGHOME: home, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  const fake = o.fakedTime ? ['--faked-system-time', o.fakedTime] : [];
  run([...fake, '--passphrase', '', '--quick-gen-key', `${name} <${name}@example.invalid>`, o.algo ?? 'ed25519', 'sign', o.expire ?? '0']);
  const colons = run(['--with-colons', '--list-keys']).toString();
  const fingerprint = /^fpr:+([0-9A-F]{40}):/m.exec(colons)![1]!;
  return {
    home,
    fingerprint,
    run,
    exportPublic: (p) => writeFileSync(p, run(['--armor', '--export', fingerprint])),
    exportSecret: (p) => writeFileSync(p, run(['--pinentry-mode', 'loopback', '--passphrase', '', '--armor', '--export-secret-keys', fingerprint])),
    kill: () => {
      try {
        execFileSync('gpgconf', ['--homedir', home, '--kill', 'all'], { stdio: 'ignore' });
      } catch {
        /* ignore */
      }
    },
  };
}
