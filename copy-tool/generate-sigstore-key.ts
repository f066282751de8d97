import type { Command } from 'commander';
import { SkiffError } from '../shared/errors.ts';
import { readPassphraseFile } from '../shared/signature/openpgp-keys.ts';
import { generateSigstoreKey } from '../shared/signature/sigstore.ts';

/**
 * `generate-sigstore-key --output-prefix P [--passphrase-file F]`: writes P.private (cosign-encrypted) and P.pub.
 * The passphrase comes from --passphrase-file or $SKIFF_SIGSTORE_PASSPHRASE (no interactive prompt yet).
 */
export function addGenerateSigstoreKeyCommand(program: Command): void {
  program
    .command('generate-sigstore-key')
    .description('generate a sigstore public/private key pair')
    .requiredOption('--output-prefix <prefix>', 'write the keys to PREFIX.pub and PREFIX.private')
    .option('--passphrase-file <path>', 'read a passphrase for the private key from PATH')
    .action(async (opts: { outputPrefix: string; passphraseFile?: string }) => {
      const pass = opts.passphraseFile !== undefined ? await readPassphraseFile(opts.passphraseFile) : process.env.SKIFF_SIGSTORE_PASSPHRASE;
      if (pass === undefined) throw new SkiffError('EINVALID', 'a passphrase is required', { hint: 'pass --passphrase-file FILE' });
      const { privatePath, publicPath } = await generateSigstoreKey(opts.outputPrefix, pass);
      process.stdout.write(`Key written to "${privatePath}" and "${publicPath}"\n`);
    });
}
