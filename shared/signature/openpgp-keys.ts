import type * as openpgp from 'openpgp';
import { loadOpenpgp } from './openpgp-lazy.ts';
import { readFile } from 'node:fs/promises';
import { SkiffError, type Cancellable } from '../errors.ts';

/** Largest key file read (a keyring of many keys is still far below this). */
export const MAX_KEY_FILE_BYTES = 4 * 1024 * 1024;

/** Reads a file with a size cap; ENOENT → ENOTFOUND naming `what`. */
export async function readCapped(path: string, what: string, cap = MAX_KEY_FILE_BYTES, o: Cancellable = {}): Promise<Buffer> {
  const bytes = await readFile(path, o.signal ? { signal: o.signal } : {}).catch((e: NodeJS.ErrnoException) => {
    throw new SkiffError(e.code === 'ENOENT' ? 'ENOTFOUND' : 'EIO', `reading ${what} ${path}: ${e.message}`, { cause: e });
  });
  if (bytes.length > cap) throw new SkiffError('ELIMIT', `${what} ${path} is larger than ${cap} bytes`);
  return bytes;
}

function looksArmored(b: Uint8Array): boolean {
  const head = Buffer.from(b.subarray(0, 200)).toString('latin1');
  return head.includes('-----BEGIN PGP');
}

/**
 * Parses one or more OpenPGP public keys (armored or binary keyring, as `gpg --export` writes). Private keys are
 * reduced to their public part. Malformed input is EINVALID naming `what`.
 */
export async function parsePublicKeys(bytes: Uint8Array, what = 'public key'): Promise<openpgp.PublicKey[]> {
  try {
    const keys = looksArmored(bytes)
      ? await (await loadOpenpgp()).readKeys({ armoredKeys: Buffer.from(bytes).toString('utf8') })
      : await (await loadOpenpgp()).readKeys({ binaryKeys: bytes });
    if (keys.length === 0) throw new Error('no keys found');
    return keys.map((k: openpgp.Key) => (k.isPrivate() ? k.toPublic() : k));
  } catch (e) {
    throw new SkiffError('EINVALID', `invalid OpenPGP ${what}: ${(e as Error).message}`, { cause: e });
  }
}

/** Loads public keys from files (each armored or binary). */
export async function loadPublicKeyFiles(paths: readonly string[], o: Cancellable = {}): Promise<openpgp.PublicKey[]> {
  const out: openpgp.PublicKey[] = [];
  for (const p of paths) out.push(...(await parsePublicKeys(await readCapped(p, 'public key file', MAX_KEY_FILE_BYTES, o), `public key file ${p}`)));
  return out;
}

/**
 * Loads an armored (or binary) OpenPGP private key from a file and decrypts it with the passphrase when it is
 * protected. A wrong or missing passphrase is EPERM with a hint.
 */
export async function loadPrivateKeyFile(path: string, passphrase: string | undefined, o: Cancellable = {}): Promise<openpgp.PrivateKey> {
  const bytes = await readCapped(path, 'private key file', MAX_KEY_FILE_BYTES, o);
  let key: openpgp.PrivateKey;
  try {
    key = looksArmored(bytes)
      ? await (await loadOpenpgp()).readPrivateKey({ armoredKey: bytes.toString('utf8') })
      : await (await loadOpenpgp()).readPrivateKey({ binaryKey: bytes });
  } catch (e) {
    throw new SkiffError('EINVALID', `invalid OpenPGP private key file ${path}: ${(e as Error).message}`, { cause: e });
  }
  if (key.isDecrypted()) return key;
  if (passphrase === undefined) {
    throw new SkiffError('EPERM', `private key ${path} is protected by a passphrase`, { hint: 'pass --sign-passphrase-file / --passphrase-file' });
  }
  try {
    return await (await loadOpenpgp()).decryptKey({ privateKey: key, passphrase });
  } catch (e) {
    throw new SkiffError('EPERM', `cannot unlock private key ${path}: ${(e as Error).message}`, { cause: e, hint: 'check the passphrase' });
  }
}

/** Upper-case hex fingerprint of a key (what gpg and skopeo print). */
export function fingerprintOf(k: openpgp.Key | openpgp.Subkey): string {
  return k.getFingerprint().toUpperCase();
}

/** Reads a passphrase file as skopeo does: the first line, without its line ending. */
export async function readPassphraseFile(path: string, o: Cancellable = {}): Promise<string> {
  const b = await readCapped(path, 'passphrase file', 64 * 1024, o);
  return b.toString('utf8').split(/\r?\n/)[0] ?? '';
}
