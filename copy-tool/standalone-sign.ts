import type { Command } from 'commander';
import { writeFile } from 'node:fs/promises';
import { SkiffError } from '../shared/errors.ts';
import { readCapped } from '../shared/signature/openpgp-keys.ts';
import { loadPrivateKeyFile, readPassphraseFile } from '../shared/signature/openpgp-keys.ts';
import { signSimpleSigning, type SimpleSigner } from '../shared/signature/simple-signing.ts';

/**
 * `standalone-sign MANIFEST REFERENCE FINGERPRINT -o SIG [--passphrase-file F] [--sign-by-key FILE]`: writes a
 * simple-signing signature of the manifest file's exact bytes for REFERENCE, signed through gpg (GNUPGHOME)
 * with FINGERPRINT, or with an armored private key file (FINGERPRINT may then be "any").
 */
export function addStandaloneSignCommand(program: Command): void {
  program
    .command('standalone-sign')
    .description('create a signature using local files')
    .argument('<manifest>', 'manifest file')
    .argument('<docker-reference>', 'the reference the signature is for')
    .argument('<key-fingerprint>', 'GnuPG key fingerprint ("any" with --sign-by-key)')
    .requiredOption('-o, --output <sig>', 'output the signature to SIGNATURE')
    .option('--passphrase-file <path>', 'file that contains a passphrase for the key')
    .option('--sign-by-key <file>', 'sign with an armored OpenPGP private key file instead of the gpg keyring')
    .action(async (manifest: string, ref: string, fingerprint: string, opts: { output: string; passphraseFile?: string; signByKey?: string }) => {
      const bytes = await readCapped(manifest, 'manifest', 4 * 1024 * 1024);
      let signer: SimpleSigner;
      if (opts.signByKey !== undefined) {
        const pass = opts.passphraseFile !== undefined ? await readPassphraseFile(opts.passphraseFile) : undefined;
        const key = await loadPrivateKeyFile(opts.signByKey, pass);
        if (fingerprint !== 'any' && !key.getKeys().some((k) => k.getFingerprint().toUpperCase() === fingerprint.toUpperCase())) {
          throw new SkiffError('EINVALID', `key file ${opts.signByKey} does not contain key ${fingerprint}`);
        }
        signer = { kind: 'key', key };
      } else {
        signer = { kind: 'gpg', fingerprint, ...(process.env.GNUPGHOME ? { homedir: process.env.GNUPGHOME } : {}), passphraseFile: opts.passphraseFile };
      }
      const sig = await signSimpleSigning(bytes, ref, signer);
      await writeFile(opts.output, sig, { mode: 0o644 }).catch((e: Error) => {
        throw new SkiffError('EIO', `writing signature ${opts.output}: ${e.message}`, { cause: e });
      });
    });
}
