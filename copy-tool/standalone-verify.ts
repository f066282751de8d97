import type { Command } from 'commander';
import { SkiffError } from '../shared/errors.ts';
import { loadPublicKeyFiles, parsePublicKeys, readCapped } from '../shared/signature/openpgp-keys.ts';
import { gpgExportPublicKeys } from '../shared/signature/gpg.ts';
import { verifySimpleSignatureFor } from '../shared/signature/simple-signing.ts';
import { namedString, normalizeNamed } from '../shared/signature/docker-identity.ts';

/**
 * `standalone-verify MANIFEST REFERENCE FINGERPRINT SIG [--public-key-file F]`: authenticates SIG against the
 * GnuPG keyring (exported through gpg, verified in-process) or the given public key files, checks the manifest
 * digest and that the signed identity equals REFERENCE, and that the signer is FINGERPRINT (primary or subkey;
 * "any" accepts any key of --public-key-file). Prints skopeo's line.
 */
export function addStandaloneVerifyCommand(program: Command): void {
  program
    .command('standalone-verify')
    .description('verify a signature using local files')
    .argument('<manifest>', 'manifest file')
    .argument('<docker-reference>', 'the expected identity')
    .argument('<key-fingerprint>', 'the expected signer fingerprint, or "any" with --public-key-file')
    .argument('<signature>', 'signature file')
    .option('--public-key-file <path...>', 'verify with these armored or binary public keys instead of the gpg keyring')
    .action(async (manifest: string, ref: string, fingerprint: string, sigPath: string, opts: { publicKeyFile?: string[] }) => {
      const manifestBytes = await readCapped(manifest, 'manifest', 4 * 1024 * 1024);
      const sig = await readCapped(sigPath, 'signature', 4 * 1024 * 1024);
      if (fingerprint === 'any' && opts.publicKeyFile === undefined) throw new SkiffError('EINVALID', 'fingerprint "any" needs --public-key-file');
      const keys = opts.publicKeyFile !== undefined
        ? await loadPublicKeyFiles(opts.publicKeyFile)
        : await parsePublicKeys(await gpgExportPublicKeys([fingerprint], process.env.GNUPGHOME ? { homedir: process.env.GNUPGHOME } : {}), 'keyring export');
      const v = await verifySimpleSignatureFor(sig, manifestBytes, keys);
      const want = fingerprint.toUpperCase();
      if (fingerprint !== 'any' && v.fingerprint !== want && v.signingKeyFingerprint !== want) {
        throw new SkiffError('EINTEGRITY', `signature by key ${v.fingerprint} does not match expected fingerprint ${fingerprint}`);
      }
      const expected = normalizeNamed(ref, 'docker reference');
      if (namedString(expected) !== namedString(v.claims.identity)) {
        throw new SkiffError('EINTEGRITY', `signature is for ${JSON.stringify(v.claims.dockerReference)}, not ${JSON.stringify(ref)}`);
      }
      process.stdout.write(`Signature verified using fingerprint ${v.fingerprint}, digest ${v.claims.manifestDigest}\n`);
    });
}
