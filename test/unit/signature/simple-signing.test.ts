import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { scratchDir } from '../../helpers/tmp.ts';
import { makeGpgHome, type TestGpgHome } from './gpg-home.ts';
import { signSimpleSigning, verifySimpleSignatureFor, verifySimpleSigning } from '../../../shared/signature/simple-signing.ts';
import { loadPrivateKeyFile, loadPublicKeyFiles, parsePublicKeys } from '../../../shared/signature/openpgp-keys.ts';
import { gpgExportPublicKeys } from '../../../shared/signature/gpg.ts';
import { digestOf } from '../../../shared/oci/digest.ts';
import { buildPayload } from '../../../shared/signature/payload.ts';

const MANIFEST = new TextEncoder().encode(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: {}, layers: [] }));
const REF = '127.0.0.1:5000/alice/app:1';

describe('simple signing', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let alice: TestGpgHome;
  let bob: TestGpgHome;
  beforeAll(async () => {
    ({ dir, cleanup } = await scratchDir('skiff-sig-'));
    alice = makeGpgHome(dir, 'alice');
    bob = makeGpgHome(dir, 'bob', { algo: 'rsa3072' });
    alice.exportPublic(join(dir, 'alice.pub'));
    alice.exportSecret(join(dir, 'alice.key'));
    bob.exportPublic(join(dir, 'bob.pub'));
    writeFileSync(join(dir, 'manifest.json'), MANIFEST);
  }, 60_000);
  afterAll(async () => {
    alice?.kill();
    bob?.kill();
    await cleanup?.();
  });

  it('signs through gpg and with a key file; both verify with the exported public key', async () => {
    const keys = await loadPublicKeyFiles([join(dir, 'alice.pub')]);
    const viaGpg = await signSimpleSigning(MANIFEST, REF, { kind: 'gpg', fingerprint: alice.fingerprint, homedir: alice.home });
    const key = await loadPrivateKeyFile(join(dir, 'alice.key'), undefined);
    const viaKey = await signSimpleSigning(MANIFEST, REF, { kind: 'key', key });
    for (const sig of [viaGpg, viaKey]) {
      const v = await verifySimpleSignatureFor(sig, MANIFEST, keys);
      expect(v.fingerprint).toBe(alice.fingerprint);
      expect(v.claims.manifestDigest).toBe(digestOf(MANIFEST));
      expect(v.claims.dockerReference).toBe(REF);
    }
    // keys exported from the keyring by the gpg program work too
    const fromRing = await parsePublicKeys(await gpgExportPublicKeys([], { homedir: alice.home }));
    expect((await verifySimpleSigning(viaGpg, fromRing)).fingerprint).toBe(alice.fingerprint);
  }, 60_000);

  it('interop: skopeo standalone-sign output verifies; our signature passes skopeo standalone-verify', async () => {
    const theirs = join(dir, 'skopeo.sig');
    execFileSync('skopeo', ['standalone-sign', join(dir, 'manifest.json'), REF, alice.fingerprint, '-o', theirs], { env: { ...process.env, GNUPGHOME: alice.home } });
    const v = await verifySimpleSignatureFor(readFileSync(theirs), MANIFEST, await loadPublicKeyFiles([join(dir, 'alice.pub')]));
    expect(v.claims.dockerReference).toBe(REF);

    const ours = join(dir, 'ours.sig');
    writeFileSync(ours, await signSimpleSigning(MANIFEST, REF, { kind: 'key', key: await loadPrivateKeyFile(join(dir, 'alice.key'), undefined) }));
    const out = execFileSync('skopeo', ['standalone-verify', join(dir, 'manifest.json'), REF, alice.fingerprint, ours], { env: { ...process.env, GNUPGHOME: alice.home } }).toString();
    expect(out).toContain(`Signature verified`);
    expect(out).toContain(digestOf(MANIFEST));
    // and skopeo refuses it for another identity: the interop is real
    expect(() => execFileSync('skopeo', ['standalone-verify', join(dir, 'manifest.json'), '127.0.0.1:5000/alice/other:1', alice.fingerprint, ours], { env: { ...process.env, GNUPGHOME: alice.home }, stdio: 'pipe' })).toThrow();
  }, 60_000);

  it('SG-02 signature by another key is rejected', async () => {
    const sig = await signSimpleSigning(MANIFEST, '127.0.0.1:5000/bob/app:1', { kind: 'gpg', fingerprint: alice.fingerprint, homedir: alice.home });
    await expect(verifySimpleSignatureFor(sig, MANIFEST, await loadPublicKeyFiles([join(dir, 'bob.pub')]))).rejects.toThrow(/invalid signature/);
  }, 30_000);

  it('SG-04 payload digest must equal the digest of the manifest we have', async () => {
    const sig = await signSimpleSigning(MANIFEST, REF, { kind: 'gpg', fingerprint: alice.fingerprint, homedir: alice.home });
    const other = new TextEncoder().encode('{"schemaVersion":2}');
    await expect(verifySimpleSignatureFor(sig, other, await loadPublicKeyFiles([join(dir, 'alice.pub')]))).rejects.toThrow(/manifest digest/);
  }, 30_000);

  it('SG-06 unsigned literal packets and malformed packets are rejected before parsing', async () => {
    const keys = await loadPublicKeyFiles([join(dir, 'alice.pub')]);
    const payload = buildPayload('simple-signing', digestOf(MANIFEST), REF, { creator: 'x', timestamp: 1 });
    const literal = (await openpgp.createMessage({ binary: payload })).write();
    await expect(verifySimpleSigning(literal, keys)).rejects.toThrow(/invalid signature/);
    // gpg's own unsigned literal (--store)
    const stored = alice.run(['--store'], payload);
    await expect(verifySimpleSigning(new Uint8Array(stored), keys)).rejects.toThrow(/invalid signature/);
    await expect(verifySimpleSigning(new Uint8Array([0xa3, 0x01, 0x02, 0xff, 0x00]), keys)).rejects.toThrow(/invalid signature/);
    await expect(verifySimpleSigning(payload, keys)).rejects.toThrow(/invalid signature/);
  }, 30_000);

  it('SG-07 expired signature, expired key and revoked subkey are rejected', async () => {
    // a signature with an expiration in the past (made at a faked time by a key created then)
    const old = makeGpgHome(dir, 'old', { fakedTime: '20200101T000000' });
    const payload = buildPayload('simple-signing', digestOf(MANIFEST), REF, { creator: 'x', timestamp: 1 });
    const expiredSig = old.run(['--faked-system-time', '20200101T010000', '--default-sig-expire', '1d', '--local-user', old.fingerprint, '--sign'], payload);
    const oldKeys = await parsePublicKeys(old.run(['--export', old.fingerprint]));
    await expect(verifySimpleSigning(new Uint8Array(expiredSig), oldKeys)).rejects.toThrow(/expired|invalid signature/);
    // control: the same key without expiry on the signature verifies
    const fine = old.run(['--local-user', old.fingerprint, '--sign'], payload);
    expect((await verifySimpleSigning(new Uint8Array(fine), oldKeys)).fingerprint).toBe(old.fingerprint);
    old.kill();

    // a key that expired after signing
    const exp = makeGpgHome(dir, 'exp', { fakedTime: '20200101T000000', expire: '2d' });
    const byExpired = exp.run(['--faked-system-time', '20200101T010000', '--local-user', exp.fingerprint, '--sign'], payload);
    const expKeys = await parsePublicKeys(exp.run(['--export', exp.fingerprint]));
    await expect(verifySimpleSigning(new Uint8Array(byExpired), expKeys)).rejects.toThrow(/not valid now|expired/);
    // … and verifies at a time when it was valid (the test can fail)
    expect((await verifySimpleSigning(new Uint8Array(byExpired), expKeys, { now: new Date('2020-01-01T12:00:00Z') })).fingerprint).toBe(exp.fingerprint);
    exp.kill();

    // a signing subkey revoked after it signed
    const { privateKey } = await openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs: [{ name: 'Sub', email: 'sub@example.invalid' }], subkeys: [{ sign: true }], format: 'object' });
    const subId = privateKey.subkeys[0]!.getKeyID();
    const msg = await openpgp.createMessage({ binary: payload });
    const sig = (await openpgp.sign({ message: msg, signingKeys: privateKey, signingKeyIDs: [subId], format: 'binary' })) as Uint8Array;
    const pub = privateKey.toPublic();
    expect((await verifySimpleSigning(sig, [pub])).signingKeyFingerprint).toBe(privateKey.subkeys[0]!.getFingerprint().toUpperCase());
    const revokedSub = await privateKey.subkeys[0]!.revoke(privateKey.keyPacket as openpgp.SecretKeyPacket, {}, new Date());
    privateKey.subkeys[0] = revokedSub;
    const reparsed = await openpgp.readKey({ binaryKey: privateKey.toPublic().write() });
    await expect(verifySimpleSigning(sig, [reparsed])).rejects.toThrow(/invalid signature/);
  }, 60_000);
});
