// copy-tool signing and policy through the CLI, with a real registry, Debian's skopeo and podman (issue 4):
// images signed by copy-tool (gpg and key file) are accepted by podman pull and skopeo copy under a signedBy policy
// and rejected for a wrong key, identity or signature; skopeo-signed images verify in copy-tool; sigstore round trip
// through registry attachments; SG-01, SG-02, SG-11 through the CLI.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { scratchDir } from '../../helpers/tmp.ts';
import { REGISTRY_BIN, startRegistry, type TestRegistry } from '../../helpers/registry.ts';
import { ct, skopeo } from '../../helpers/copy-tool.ts';
import { makeGpgHome, type TestGpgHome } from '../../unit/signature/gpg-home.ts';
import { hasGpg, hasPodman, makeOciLayout, podman, signedBy, sigstoreSigned, writePolicy } from './copy-sign-helpers.ts';

describe.skipIf(!existsSync(REGISTRY_BIN) || !hasGpg)('copy-tool signing through a registry', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let reg: TestRegistry;
  let alice: TestGpgHome;
  let bob: TestGpgHome;
  let regd: string;
  let lookaside: string;
  let etcRegd: string | undefined;
  let pol: { alice: string; bob: string; identity: string; unsigned: string; sigstore: string; sigstoreWrong: string };
  let H: string;
  // one distinct image per use: signatures are stored per manifest digest, so tests must not share one
  const layout = (name = 'base') => {
    const p = join(dir, `layout-${name}`);
    if (!existsSync(p)) makeOciLayout(p, `content of ${name}\n`);
    return `oci:${p}:latest`;
  };
  const tls = ['--src-tls-verify=false', '--dest-tls-verify=false'];
  const ok = (r: { status: number | null; stderr: string; stdout: string }) => {
    if (r.status !== 0) throw new Error(`exit ${r.status}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  const ctp = (policy: string, args: string[], env: NodeJS.ProcessEnv = {}) => ct(['--policy', policy, '--registries.d', regd, ...args], { env: { GNUPGHOME: alice.home, ...env } });

  beforeAll(async () => {
    ({ dir, cleanup } = await scratchDir('skiff-sign-e2e-'));
    reg = await startRegistry();
    H = reg.host;
    alice = makeGpgHome(dir, 'alice');
    bob = makeGpgHome(dir, 'bob');
    alice.exportPublic(join(dir, 'alice.pub'));
    alice.exportSecret(join(dir, 'alice.key'));
    bob.exportPublic(join(dir, 'bob.pub'));
    lookaside = join(dir, 'sigstore');
    mkdirSync(lookaside);
    regd = join(dir, 'registries.d');
    mkdirSync(regd);
    const yaml = `docker:\n  ${H}:\n    lookaside: file://${lookaside}\n    lookaside-staging: file://${lookaside}\n  ${H}/cosign:\n    use-sigstore-attachments: true\n`;
    writeFileSync(join(regd, 'test.yaml'), yaml);
    if (hasPodman) {
      // podman reads registries.d only from /etc (or the user's dir): a file for this test's own scope, removed after
      mkdirSync('/etc/containers/registries.d', { recursive: true });
      etcRegd = `/etc/containers/registries.d/skiff-test-${randomBytes(6).toString('hex')}.yaml`;
      writeFileSync(etcRegd, yaml);
    }
    const a = join(dir, 'alice.pub');
    pol = {
      alice: writePolicy(join(dir, 'p-alice.json'), { [H]: [signedBy(a)] }),
      bob: writePolicy(join(dir, 'p-bob.json'), { [H]: [signedBy(join(dir, 'bob.pub'))] }),
      identity: writePolicy(join(dir, 'p-identity.json'), { [H]: [signedBy(a, { type: 'matchRepository' })] }),
      unsigned: writePolicy(join(dir, 'p-unsigned.json'), { [`${H}/open`]: [{ type: 'insecureAcceptAnything' }], [H]: [signedBy(a)] }),
      sigstore: join(dir, 'p-sigstore.json'),
      sigstoreWrong: join(dir, 'p-sigstore-wrong.json'),
    };
    // signed pushes used by several tests
    ok(ctp(pol.alice, ['copy', ...tls, '--sign-by', alice.fingerprint, layout('gpg'), `docker://${H}/app:gpg`]));
    ok(ctp(pol.alice, ['copy', ...tls, '--sign-by-key', join(dir, 'alice.key'), layout('key'), `docker://${H}/app:key`]));
    ok(ctp(pol.alice, ['copy', ...tls, '--sign-by-key', join(dir, 'alice.key'), '--sign-identity', `${H}/other:1`, layout('wrongid'), `docker://${H}/app:wrongid`]));
    ok(ctp(pol.alice, ['copy', ...tls, layout('open'), `docker://${H}/open/app:1`]));
  }, 120_000);

  afterAll(async () => {
    if (etcRegd) rmSync(etcRegd, { force: true });
    alice?.kill();
    bob?.kill();
    await reg?.stop();
    await cleanup?.();
  });

  it('copy --sign-by (gpg) and --sign-by-key store a signature-N for the stored digest in the lookaside staging dir', () => {
    for (const tag of ['gpg', 'key']) {
      const digest = ok(skopeo(['inspect', '--tls-verify=false', '--format', '{{.Digest}}', `docker://${H}/app:${tag}`])).trim();
      const sigDir = join(lookaside, `app@sha256=${digest.slice(7)}`);
      expect(readdirSync(sigDir)).toEqual(['signature-1']);
      // gpg itself authenticates the signature; the payload names the digest the registry stored and the identity
      const payload = JSON.parse(alice.run(['--decrypt'], readFileSync(join(sigDir, 'signature-1'))).toString()) as { critical: { identity: Record<string, string>; image: Record<string, string>; type: string } };
      expect(payload.critical.type).toBe('atomic container signature');
      expect(payload.critical.image['docker-manifest-digest']).toBe(digest);
      expect(payload.critical.identity['docker-reference']).toBe(`${H}/app:${tag}`);
    }
  });

  it('an image signed by copy-tool (gpg and key file) is accepted by skopeo copy under signedBy; wrong key, identity or signature is rejected', () => {
    for (const tag of ['gpg', 'key']) {
      const out = join(dir, `skopeo-ok-${tag}`);
      ok(skopeo(['--policy', pol.alice, '--registries.d', regd, 'copy', '--src-tls-verify=false', `docker://${H}/app:${tag}`, `dir:${out}`]));
      expect(existsSync(join(out, 'signature-1'))).toBe(true);
    }
    const wrongKey = skopeo(['--policy', pol.bob, '--registries.d', regd, 'copy', '--src-tls-verify=false', `docker://${H}/app:key`, `dir:${join(dir, 'skopeo-bob')}`]);
    expect(wrongKey.status).not.toBe(0);
    expect(wrongKey.stderr).toMatch(/rejected|signature/i);
    const wrongId = skopeo(['--policy', pol.alice, '--registries.d', regd, 'copy', '--src-tls-verify=false', `docker://${H}/app:wrongid`, `dir:${join(dir, 'skopeo-id')}`]);
    expect(wrongId.status).not.toBe(0);
    expect(wrongId.stderr).toMatch(/not accepted|identity|rejected/i);
  });

  it.skipIf(!hasPodman)('podman pull accepts the copy-tool-signed images under signedBy and rejects a wrong key, identity or signature', () => {
    const pd = join(dir, 'podman');
    for (const tag of ['gpg', 'key']) ok(podman(pd, ['pull', '--tls-verify=false', '--signature-policy', pol.alice, `${H}/app:${tag}`]));
    const bad = podman(pd, ['pull', '--tls-verify=false', '--signature-policy', pol.bob, `${H}/app:key`]);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/rejected|signature/i);
    const badId = podman(pd, ['pull', '--tls-verify=false', '--signature-policy', pol.alice, `${H}/app:wrongid`]);
    expect(badId.status).not.toBe(0);
    expect(badId.stderr).toMatch(/not accepted|identity|rejected/i);
  });

  it('a corrupted signature is rejected by copy-tool, skopeo and podman', () => {
    // a separate tag/digest: sign a second image, then flip a byte of its signature
    ok(ctp(pol.alice, ['copy', ...tls, '--sign-by-key', join(dir, 'alice.key'), layout('corrupt'), `docker://${H}/corrupt:1`]));
    const digest = ok(skopeo(['inspect', '--tls-verify=false', '--format', '{{.Digest}}', `docker://${H}/corrupt:1`])).trim();
    const f = join(lookaside, `corrupt@sha256=${digest.slice(7)}`, 'signature-1');
    const b = readFileSync(f);
    b[b.length - 5]! ^= 0xff;
    writeFileSync(f, b);
    const r = ctp(pol.alice, ['copy', ...tls, `docker://${H}/corrupt:1`, `dir:${join(dir, 'ct-corrupt')}`]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/Source image rejected/);
    expect(existsSync(join(dir, 'ct-corrupt'))).toBe(false);
    const s = skopeo(['--policy', pol.alice, '--registries.d', regd, 'copy', '--src-tls-verify=false', `docker://${H}/corrupt:1`, `dir:${join(dir, 'sk-corrupt')}`]);
    expect(s.status).not.toBe(0);
    if (hasPodman) expect(podman(join(dir, 'podman'), ['pull', '--tls-verify=false', '--signature-policy', pol.alice, `${H}/corrupt:1`]).status).not.toBe(0);
  });

  it('an image signed by skopeo copy --sign-by (gpg) is verified by copy-tool under the same policy', () => {
    ok(skopeo(['--registries.d', regd, '--insecure-policy', 'copy', '--dest-tls-verify=false', '--sign-by', alice.fingerprint, layout('skopeo'), `docker://${H}/app:skopeo`], { env: { GNUPGHOME: alice.home } }));
    const out = join(dir, 'ct-from-skopeo');
    ok(ctp(pol.alice, ['copy', ...tls, `docker://${H}/app:skopeo`, `dir:${out}`]));
    expect(existsSync(join(out, 'signature-1'))).toBe(true);
    const r = ctp(pol.bob, ['copy', ...tls, `docker://${H}/app:skopeo`, `dir:${join(dir, 'ct-from-skopeo-bob')}`]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^.*Source image rejected/m);
  });

  it('copy-tool verifies its own signatures: identity checked per signedIdentity', () => {
    ok(ctp(pol.alice, ['copy', ...tls, `docker://${H}/app:key`, `dir:${join(dir, 'ct-key')}`]));
    const r = ctp(pol.alice, ['copy', ...tls, `docker://${H}/app:wrongid`, `dir:${join(dir, 'ct-wrongid')}`]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/Source image rejected: .*not accepted/);
    // matchRepository: the identity's repository (other) still differs from app → rejected too
    expect(ctp(pol.identity, ['copy', ...tls, `docker://${H}/app:wrongid`, `dir:${join(dir, 'ct-wrongid2')}`]).status).toBe(1);
  });

  it('SG-02 wrong signer: an image signed by alice is rejected under a policy requiring bob', () => {
    const r = ctp(pol.bob, ['copy', ...tls, `docker://${H}/app:gpg`, `dir:${join(dir, 'sg02')}`]);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n').some((l) => /Source image rejected: .*signedBy: invalid signature/.test(l))).toBe(true);
    expect(existsSync(join(dir, 'sg02'))).toBe(false);
  });

  it('SG-01 default reject and signedBy scopes block an unsigned image; an insecureAcceptAnything scope passes', () => {
    const rejectAll = join(dir, 'p-reject.json');
    writeFileSync(rejectAll, JSON.stringify({ default: [{ type: 'reject' }] }));
    const r1 = ct(['--policy', rejectAll, 'copy', layout(), `dir:${join(dir, 'sg01-a')}`]);
    expect(r1.status).toBe(1);
    expect(r1.stderr).toMatch(/Source image rejected: Running image is rejected by policy/);
    expect(existsSync(join(dir, 'sg01-a'))).toBe(false);
    // unsigned image under the host scope requiring signedBy → rejected; under the open/ scope → accepted
    ok(ctp(pol.alice, ['copy', ...tls, layout('unsigned'), `docker://${H}/unsigned:1`]));
    const r2 = ctp(pol.unsigned, ['copy', ...tls, `docker://${H}/unsigned:1`, `dir:${join(dir, 'sg01-b')}`]);
    expect(r2.status).toBe(1);
    expect(r2.stderr).toMatch(/Source image rejected: A signature was required, but no signature exists/);
    ok(ctp(pol.unsigned, ['copy', ...tls, `docker://${H}/open/app:1`, `dir:${join(dir, 'sg01-c')}`]));
    // --insecure-policy skips the check
    ok(ct(['--insecure-policy', 'copy', layout(), `dir:${join(dir, 'sg01-d')}`]));
  });

  it('SG-11 a copy that would change a signed manifest is refused unless --remove-signatures', () => {
    const r = ctp(pol.alice, ['copy', ...tls, '--format', 'v2s2', `docker://${H}/app:key`, `dir:${join(dir, 'sg11')}`]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/would invalidate its signatures/);
    expect(existsSync(join(dir, 'sg11'))).toBe(false);
    ok(ctp(pol.alice, ['copy', ...tls, '--format', 'v2s2', '--remove-signatures', `docker://${H}/app:key`, `dir:${join(dir, 'sg11')}`]));
    expect(existsSync(join(dir, 'sg11', 'manifest.json'))).toBe(true);
    expect(existsSync(join(dir, 'sg11', 'signature-1'))).toBe(false);
  });

  it('signatures travel with copy (registry → registry lookaside) and re-signing adds a signature', () => {
    ok(ctp(pol.alice, ['copy', ...tls, '--sign-by-key', join(dir, 'alice.key'), '--sign-identity', `${H}/app:key`, `docker://${H}/app:key`, `docker://${H}/mirror/app:key`]));
    const digest = ok(skopeo(['inspect', '--tls-verify=false', '--format', '{{.Digest}}', `docker://${H}/mirror/app:key`])).trim();
    const sigDir = join(lookaside, `mirror/app@sha256=${digest.slice(7)}`);
    expect(readdirSync(sigDir).sort()).toEqual(['signature-1', 'signature-2']);
    const out = join(dir, 'travel');
    // identity of both signatures is app:key → accepted for mirror/app only via exactRepository
    const p = writePolicy(join(dir, 'p-travel.json'), { [H]: [signedBy(join(dir, 'alice.pub'), { type: 'exactRepository', dockerRepository: `${H}/app` })] });
    ok(ctp(p, ['copy', ...tls, `docker://${H}/mirror/app:key`, `dir:${out}`]));
    expect(existsSync(join(out, 'signature-2'))).toBe(true);
  });

  it('sigstore: sign → copy → verify through registry attachments (use-sigstore-attachments)', () => {
    const pass = join(dir, 'cosign.pass');
    writeFileSync(pass, 'cosign-pass\n');
    ok(ct(['generate-sigstore-key', '--output-prefix', join(dir, 'cosign'), '--passphrase-file', pass]));
    ok(ct(['generate-sigstore-key', '--output-prefix', join(dir, 'cosign2'), '--passphrase-file', pass]));
    writeFileSync(pol.sigstore, JSON.stringify({ default: [{ type: 'reject' }], transports: { oci: { '': [{ type: 'insecureAcceptAnything' }] }, docker: { [`${H}/cosign`]: [sigstoreSigned(join(dir, 'cosign.pub'), { type: 'matchRepository' })] } } }));
    writeFileSync(pol.sigstoreWrong, JSON.stringify({ default: [{ type: 'reject' }], transports: { docker: { [`${H}/cosign`]: [sigstoreSigned(join(dir, 'cosign2.pub'), { type: 'matchRepository' })] } } }));
    ok(ctp(pol.sigstore, ['copy', ...tls, '--sign-by-sigstore-private-key', join(dir, 'cosign.private'), '--sign-passphrase-file', pass, layout('cosign'), `docker://${H}/cosign:1`]));
    const digest = ok(skopeo(['inspect', '--tls-verify=false', '--format', '{{.Digest}}', `docker://${H}/cosign:1`])).trim();
    // the attachment is an OCI manifest tagged sha256-<hex>.sig with one simplesigning layer
    const att = JSON.parse(ok(skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${H}/cosign:sha256-${digest.slice(7)}.sig`]))) as { layers: { mediaType: string; annotations: Record<string, string> }[] };
    expect(att.layers).toHaveLength(1);
    expect(att.layers[0]!.mediaType).toBe('application/vnd.dev.cosign.simplesigning.v1+json');
    expect(att.layers[0]!.annotations['dev.cosignproject.cosign/signature']).toMatch(/^[A-Za-z0-9+/]+=*$/);
    // copy within the scope (signatures travel as the same attachment), then verify the copy
    ok(ctp(pol.sigstore, ['copy', ...tls, `docker://${H}/cosign:1`, `docker://${H}/cosign:2`]));
    const out = join(dir, 'cosign-dir');
    ok(ctp(pol.sigstore, ['copy', ...tls, `docker://${H}/cosign:2`, `dir:${out}`]));
    expect(readFileSync(join(out, 'signature-1'))[0]).toBe(0); // \0sigstore-json\n… blob in dir:
    // the dir: copy verifies too (dir scope requiring the sigstore key, identity by exactRepository)
    const pd = join(dir, 'p-sigstore-dir.json');
    writeFileSync(pd, JSON.stringify({ default: [{ type: 'reject' }], transports: { dir: { '': [sigstoreSigned(join(dir, 'cosign.pub'), { type: 'exactRepository', dockerRepository: `${H}/cosign` })] } } }));
    ok(ct(['--policy', pd, 'copy', `dir:${out}`, `dir:${join(dir, 'cosign-dir2')}`]));
    const wrong = ctp(pol.sigstoreWrong, ['copy', ...tls, `docker://${H}/cosign:2`, `dir:${join(dir, 'cosign-wrong')}`]);
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toMatch(/Source image rejected: sigstoreSigned: invalid sigstore signature/);
  });
});
