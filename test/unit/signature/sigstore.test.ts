import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrivateKey, generateKeyPairSync, randomBytes, scryptSync } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import nacl from 'tweetnacl';
import { scratchDir } from '../../helpers/tmp.ts';
import { digestOf } from '../../../shared/oci/digest.ts';
import {
  buildSigstoreAttachment, generateSigstoreKey, loadCosignPrivateKey, loadSigstorePublicKey, MAX_SIGSTORE_SIGNATURES,
  parseSigstoreAttachment, readAttachmentSignatures, sigstoreAttachmentTag, signSigstore, verifySigstore,
} from '../../../shared/signature/sigstore.ts';

const D = digestOf('manifest');

describe('sigstore', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeAll(async () => ({ dir, cleanup } = await scratchDir('skiff-cosign-')));
  afterAll(async () => cleanup?.());

  it('generate → load with passphrase → sign → verify', async () => {
    const { privatePath, publicPath } = await generateSigstoreKey(join(dir, 'k'), 'pw');
    expect(statSync(privatePath).mode & 0o777).toBe(0o600);
    const pem = readFileSync(privatePath, 'utf8');
    expect(pem).toMatch(/^-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n/);
    const j = JSON.parse(Buffer.from(pem.split('\n').slice(1, -2).join(''), 'base64').toString());
    expect(j.kdf).toMatchObject({ name: 'scrypt', params: { N: 32768, r: 8, p: 1 } });
    expect(Buffer.from(j.kdf.salt, 'base64')).toHaveLength(32);
    expect(j.cipher.name).toBe('nacl/secretbox');
    expect(Buffer.from(j.cipher.nonce, 'base64')).toHaveLength(24);
    await expect(loadCosignPrivateKey(pem, 'wrong')).rejects.toThrow(/wrong passphrase/);
    const key = await loadCosignPrivateKey(pem, 'pw');
    const sig = signSigstore(D, 'a.io/b:1', key);
    const pub = loadSigstorePublicKey(readFileSync(publicPath));
    expect(verifySigstore(sig, [pub]).manifestDigest).toBe(D);
    const other = loadSigstorePublicKey(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ format: 'pem', type: 'spki' }) as string);
    expect(() => verifySigstore(sig, [other])).toThrow(/verification failed/);
    // tampered payload: rejected by the signature check, not the parser
    const tampered = { ...sig, payload: new TextEncoder().encode(new TextDecoder().decode(sig.payload).replace('a.io/b:1', 'a.io/c:1')) };
    expect(() => verifySigstore(tampered, [pub])).toThrow(/verification failed/);
    await expect(generateSigstoreKey(join(dir, 'k'), 'pw')).rejects.toThrow(/EEXIST|exists/);
  });

  it('reads a fixed fixture written per cosign format (both PEM labels)', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
    const salt = randomBytes(32);
    const nonce = randomBytes(24);
    const k = scryptSync('secret', salt, 32, { N: 32768, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
    const ct = nacl.secretbox(pkcs8, nonce, k);
    const json = JSON.stringify({ kdf: { name: 'scrypt', params: { N: 32768, r: 8, p: 1 }, salt: salt.toString('base64') }, cipher: { name: 'nacl/secretbox', nonce: nonce.toString('base64') }, ciphertext: Buffer.from(ct).toString('base64') });
    for (const label of ['ENCRYPTED COSIGN PRIVATE KEY', 'ENCRYPTED SIGSTORE PRIVATE KEY']) {
      const pem = `-----BEGIN ${label}-----\n${Buffer.from(json).toString('base64').replace(/.{1,64}/g, '$&\n')}-----END ${label}-----\n`;
      const loaded = await loadCosignPrivateKey(pem, 'secret');
      expect(loaded.export({ format: 'der', type: 'pkcs8' }).equals(createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }).export({ format: 'der', type: 'pkcs8' }))).toBe(true);
    }
    await expect(loadCosignPrivateKey('-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n', 'x')).rejects.toThrow(/unsupported/);
  });

  it('builds and parses attachment manifests', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const sigs = [signSigstore(D, 'a.io/b:1', privateKey), signSigstore(D, 'a.io/b:2', privateKey)];
    const att = buildSigstoreAttachment(sigs);
    expect(sigstoreAttachmentTag(D)).toBe(`sha256-${D.slice(7)}.sig`);
    const m = JSON.parse(new TextDecoder().decode(att.manifestBytes));
    expect(m.layers[0].mediaType).toBe('application/vnd.dev.cosign.simplesigning.v1+json');
    expect(m.layers[0].annotations['dev.cosignproject.cosign/signature']).toBe(sigs[0]!.signature);
    const blobs = new Map(att.blobs.map((b) => [b.descriptor.digest, b.bytes]));
    const back = await readAttachmentSignatures(att.manifestBytes, async (d) => blobs.get(d.digest)!);
    expect(back.map((s) => verifySigstore(s, [publicKey]).dockerReference)).toEqual(['a.io/b:1', 'a.io/b:2']);
  });

  it('SG-09 signature count and size caps fail fast', async () => {
    const layer = { mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json', digest: D, size: 10, annotations: { 'dev.cosignproject.cosign/signature': 'AAAA' } };
    const many = new TextEncoder().encode(JSON.stringify({ schemaVersion: 2, config: layer, layers: Array.from({ length: 100_000 }, () => layer) }));
    const t0 = Date.now();
    expect(() => parseSigstoreAttachment(many)).toThrow(/larger than|limit/);
    const justOver = new TextEncoder().encode(JSON.stringify({ schemaVersion: 2, config: layer, layers: Array.from({ length: MAX_SIGSTORE_SIGNATURES + 1 }, () => layer) }));
    expect(() => parseSigstoreAttachment(justOver)).toThrow(/more than the limit/);
    const huge = new TextEncoder().encode(JSON.stringify({ schemaVersion: 2, config: layer, layers: [{ ...layer, size: 1 << 30 }] }));
    let fetched = false;
    await expect(readAttachmentSignatures(huge, async () => ((fetched = true), new Uint8Array()))).rejects.toThrow(/exceeds the limit/);
    expect(fetched).toBe(false);
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('SG-10 attachment bytes are verified against the descriptor before use', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const att = buildSigstoreAttachment([signSigstore(D, 'a.io/b:1', privateKey)]);
    const real = att.blobs[1]!.bytes;
    const swapped = new Uint8Array(real);
    swapped[5] = swapped[5]! ^ 1;
    await expect(readAttachmentSignatures(att.manifestBytes, async () => swapped)).rejects.toThrow(/digest mismatch/);
    await expect(readAttachmentSignatures(att.manifestBytes, async () => real.subarray(1))).rejects.toThrow(/expected/);
    const badDigest = new TextEncoder().encode(new TextDecoder().decode(att.manifestBytes).replace(att.blobs[1]!.descriptor.digest, 'sha256:../../x'));
    expect(() => parseSigstoreAttachment(badDigest)).toThrow(/invalid/);
    expect(() => sigstoreAttachmentTag('sha256:../../x')).toThrow(/invalid/);
  });
});
