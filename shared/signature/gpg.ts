import { spawn } from 'node:child_process';
import { SkiffError, throwIfAborted } from '../errors.ts';

/** Options for running the `gpg` program: the GnuPG home (default $GNUPGHOME / ~/.gnupg as gpg decides). */
export interface GpgOptions {
  homedir?: string;
  signal?: AbortSignal;
}

const MAX_GPG_OUTPUT = 64 * 1024 * 1024;

/** Runs gpg with stdin bytes; resolves stdout or throws with gpg's stderr. ENODEP when gpg is missing. */
async function runGpg(args: string[], input: Uint8Array | undefined, o: GpgOptions): Promise<Buffer> {
  throwIfAborted(o.signal);
  const env = { ...process.env };
  if (o.homedir !== undefined) env.GNUPGHOME = o.homedir;
  const full = ['--batch', '--no-tty', ...(o.homedir !== undefined ? ['--homedir', o.homedir] : []), ...args];
  return await new Promise<Buffer>((resolve, reject) => {
    const child = spawn('gpg', full, { env, stdio: ['pipe', 'pipe', 'pipe'], signal: o.signal });
    const out: Buffer[] = [];
    let outLen = 0;
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => {
      outLen += b.length;
      if (outLen > MAX_GPG_OUTPUT) child.kill();
      else out.push(b);
    });
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') reject(new SkiffError('ENODEP', 'the gpg program is not installed', { hint: 'install gnupg, or sign with --sign-by-key FILE' }));
      else if (e.name === 'AbortError') reject(new SkiffError('EABORT', 'operation cancelled', { cause: e }));
      else reject(new SkiffError('EIO', `running gpg: ${e.message}`, { cause: e }));
    });
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out));
      else {
        const msg = Buffer.concat(err).toString('utf8').trim().split('\n').slice(-3).join('; ');
        reject(new SkiffError('EIO', `gpg ${args.find((a) => a.startsWith('--') && !a.startsWith('--pinentry') && !a.startsWith('--passphrase')) ?? ''} failed (exit ${code}): ${msg || 'no message'}`));
      }
    });
    child.stdin.on('error', () => {});
    child.stdin.end(input ?? Buffer.alloc(0));
  });
}

/**
 * Signs `payload` with the key `fingerprint` from the GnuPG keyring through the `gpg` program, as skopeo
 * `--sign-by` does (an OpenPGP signed, compressed message). With `passphraseFile` gpg reads the passphrase from
 * it (`--pinentry-mode loopback`). Returns the signature bytes.
 */
export async function gpgSign(payload: Uint8Array, fingerprint: string, o: GpgOptions & { passphraseFile?: string } = {}): Promise<Uint8Array> {
  if (!/^[0-9A-Fa-f]{8,40}!?$/.test(fingerprint) && !fingerprint.includes('@')) {
    throw new SkiffError('EINVALID', `invalid key fingerprint ${JSON.stringify(fingerprint)}`, { hint: 'give the full fingerprint shown by gpg --list-keys' });
  }
  const args = ['--local-user', fingerprint];
  if (o.passphraseFile !== undefined) args.push('--pinentry-mode', 'loopback', '--passphrase-file', o.passphraseFile);
  args.push('--sign');
  return new Uint8Array(await runGpg(args, payload, o));
}

/** Exports public keys from the GnuPG keyring (all keys, or the given fingerprints) as a binary keyring. */
export async function gpgExportPublicKeys(fingerprints: readonly string[] = [], o: GpgOptions = {}): Promise<Uint8Array> {
  return new Uint8Array(await runGpg(['--export', ...fingerprints], undefined, o));
}
