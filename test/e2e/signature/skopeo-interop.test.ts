import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { scratchDir } from '../../helpers/tmp.ts';
import { makeGpgHome, type TestGpgHome } from '../../unit/signature/gpg-home.ts';
import { digestOf } from '../../../shared/oci/digest.ts';
import { loadPublicKeyFiles } from '../../../shared/signature/openpgp-keys.ts';
import { verifySimpleSignatureFor } from '../../../shared/signature/simple-signing.ts';
import { parsePolicy } from '../../../shared/signature/policy.ts';
import { evaluatePolicy, policyScopeOf } from '../../../shared/signature/policy-evaluate.ts';
import { parseImageName } from '../../../shared/ref/transport-name.ts';
import { addStandaloneSignCommand } from '../../../copy-tool/standalone-sign.ts';
import { addStandaloneVerifyCommand } from '../../../copy-tool/standalone-verify.ts';
import { addGenerateSigstoreKeyCommand } from '../../../copy-tool/generate-sigstore-key.ts';

function ociLayout(dir: string): void {
  mkdirSync(join(dir, 'blobs/sha256'), { recursive: true });
  const put = (b: string) => {
    const d = digestOf(b);
    writeFileSync(join(dir, 'blobs/sha256', d.slice(7)), b);
    return { digest: d, size: Buffer.byteLength(b) };
  };
  const cfg = put(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, config: {} }));
  const m = put(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...cfg }, layers: [] }));
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...m, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }] }));
}

async function run(args: string[]): Promise<string> {
  const program = new Command('copy-tool').exitOverride();
  addStandaloneSignCommand(program);
  addStandaloneVerifyCommand(program);
  addGenerateSigstoreKeyCommand(program);
  let out = '';
  const orig = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((s: string) => ((out += s), true)) as typeof process.stdout.write;
  try {
    await program.parseAsync(['node', 'copy-tool', ...args]);
  } finally {
    process.stdout.write = orig;
  }
  return out;
}

describe('signing interop with Debian skopeo', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let alice: TestGpgHome;
  const savedHome = process.env.GNUPGHOME;
  beforeAll(async () => {
    ({ dir, cleanup } = await scratchDir('skiff-sig-e2e-'));
    alice = makeGpgHome(dir, 'alice');
    alice.exportPublic(join(dir, 'alice.pub'));
    alice.exportSecret(join(dir, 'alice.key'));
    ociLayout(join(dir, 'layout'));
  }, 60_000);
  afterAll(async () => {
    if (savedHome === undefined) delete process.env.GNUPGHOME;
    else process.env.GNUPGHOME = savedHome;
    alice?.kill();
    await cleanup?.();
  });

  it('skopeo copy --sign-by into dir: is accepted by our verifier and policy', async () => {
    const ref = '127.0.0.1:5000/alice/app:1';
    execFileSync('skopeo', ['copy', '--quiet', '--sign-by', alice.fingerprint, '--sign-identity', ref, `oci:${join(dir, 'layout')}:latest`, `dir:${join(dir, 'out')}`], {
      env: { ...process.env, GNUPGHOME: alice.home },
      stdio: 'pipe',
    });
    // a dir: destination has no docker reference, so skopeo needs --sign-identity
    const manifest = readFileSync(join(dir, 'out/manifest.json'));
    const sig = readFileSync(join(dir, 'out/signature-1'));
    const keys = await loadPublicKeyFiles([join(dir, 'alice.pub')]);
    const v = await verifySimpleSignatureFor(sig, manifest, keys);
    expect(v.fingerprint).toBe(alice.fingerprint);
    expect(v.claims.dockerReference).toBe(ref);
    const policy = parsePolicy(JSON.stringify({ default: [{ type: 'reject' }], transports: { dir: { [join(dir, 'out')]: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: join(dir, 'alice.pub'), signedIdentity: { type: 'exactReference', dockerReference: v.claims.dockerReference } }] } } }));
    const r = await evaluatePolicy(policy, { scope: policyScopeOf(parseImageName(`dir:${join(dir, 'out')}`)), manifestBytes: manifest, signatures: [{ format: 'simple-signing', bytes: sig }] });
    expect(r.allowed).toBe(true);
    // the default identity form needs a docker reference, which dir: lacks: rejected
    const strict = parsePolicy(JSON.stringify({ default: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: join(dir, 'alice.pub') }] }));
    expect((await evaluatePolicy(strict, { scope: policyScopeOf(parseImageName(`dir:${join(dir, 'out')}`)), manifestBytes: manifest, signatures: [{ format: 'simple-signing', bytes: sig }] })).allowed).toBe(false);
  }, 60_000);

  it('standalone-sign / standalone-verify commands interoperate with skopeo', async () => {
    const manifestPath = join(dir, 'm.json');
    writeFileSync(manifestPath, '{"schemaVersion":2,"layers":[]}');
    const ref = '127.0.0.1:5000/alice/app:1';
    process.env.GNUPGHOME = alice.home;
    await run(['standalone-sign', manifestPath, ref, alice.fingerprint, '-o', join(dir, 'gpg.sig')]);
    await run(['standalone-sign', manifestPath, ref, 'any', '-o', join(dir, 'key.sig'), '--sign-by-key', join(dir, 'alice.key')]);
    for (const s of ['gpg.sig', 'key.sig']) {
      const out = execFileSync('skopeo', ['standalone-verify', manifestPath, ref, alice.fingerprint, join(dir, s)], { env: { ...process.env, GNUPGHOME: alice.home } }).toString();
      expect(out).toContain('Signature verified');
      expect(await run(['standalone-verify', manifestPath, ref, alice.fingerprint, join(dir, s)])).toBe(`Signature verified using fingerprint ${alice.fingerprint}, digest ${digestOf(readFileSync(manifestPath))}\n`);
      expect(await run(['standalone-verify', manifestPath, ref, 'any', join(dir, s), '--public-key-file', join(dir, 'alice.pub')])).toContain('Signature verified');
    }
    execFileSync('skopeo', ['standalone-sign', manifestPath, ref, alice.fingerprint, '-o', join(dir, 'skopeo.sig')], { env: { ...process.env, GNUPGHOME: alice.home } });
    expect(await run(['standalone-verify', manifestPath, ref, alice.fingerprint, join(dir, 'skopeo.sig')])).toContain('Signature verified');
    await expect(run(['standalone-verify', manifestPath, '127.0.0.1:5000/alice/other:1', alice.fingerprint, join(dir, 'skopeo.sig')])).rejects.toThrow(/not/);
    await expect(run(['standalone-verify', manifestPath, ref, 'A'.repeat(40), join(dir, 'skopeo.sig'), '--public-key-file', join(dir, 'alice.pub')])).rejects.toThrow(/fingerprint/);
  }, 60_000);

  it('generate-sigstore-key writes the pair', async () => {
    writeFileSync(join(dir, 'pass'), 'pw\n');
    const out = await run(['generate-sigstore-key', '--output-prefix', join(dir, 'cos'), '--passphrase-file', join(dir, 'pass')]);
    expect(out).toContain('cos.private');
    expect(readFileSync(join(dir, 'cos.pub'), 'utf8')).toMatch(/BEGIN PUBLIC KEY/);
  });
});
