import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scratchDir } from '../../helpers/tmp.ts';
import { makeGpgHome, type TestGpgHome } from './gpg-home.ts';
import { loadPolicy, parsePolicy, type ImageSignature, type Policy } from '../../../shared/signature/policy.ts';
import { evaluatePolicy, identityMatches, policyScopeOf, requirementsFor } from '../../../shared/signature/policy-evaluate.ts';
import { normalizeNamed } from '../../../shared/signature/docker-identity.ts';
import { signSimpleSigning } from '../../../shared/signature/simple-signing.ts';
import { signSigstore } from '../../../shared/signature/sigstore.ts';
import { parseImageName } from '../../../shared/ref/transport-name.ts';
import { digestOf } from '../../../shared/oci/digest.ts';

const MANIFEST = new TextEncoder().encode('{"schemaVersion":2,"layers":[]}');
const D = digestOf(MANIFEST);
const n = (s: string) => normalizeNamed(s);

describe('policy', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let alice: TestGpgHome;
  let bob: TestGpgHome;
  beforeAll(async () => {
    ({ dir, cleanup } = await scratchDir('skiff-policy-'));
    alice = makeGpgHome(dir, 'alice');
    bob = makeGpgHome(dir, 'bob');
    alice.exportPublic(join(dir, 'alice.pub'));
    bob.exportPublic(join(dir, 'bob.pub'));
  }, 60_000);
  afterAll(async () => {
    alice?.kill();
    bob?.kill();
    await cleanup?.();
  });

  const input = (ref: string, signatures: ImageSignature[], manifestBytes = MANIFEST) => ({
    scope: policyScopeOf(parseImageName(`docker://${ref}`)),
    dockerReference: ref,
    manifestBytes,
    signatures,
  });
  const simple = async (home: TestGpgHome, ref: string): Promise<ImageSignature> => ({ format: 'simple-signing', bytes: await signSimpleSigning(MANIFEST, ref, { kind: 'gpg', fingerprint: home.fingerprint, homedir: home.home }) });

  it('parses strictly', () => {
    const ok = parsePolicy('{"default":[{"type":"reject"}],"transports":{"docker":{"a.io/b":[{"type":"insecureAcceptAnything"}]},"docker-daemon":{"":[{"type":"insecureAcceptAnything"}]}}}');
    expect(ok.transports.docker!['a.io/b']).toEqual([{ type: 'insecureAcceptAnything' }]);
    const bad = [
      '{"default":[{"type":"reject"}],"extra":1}',
      '{"default":[{"type":"reject","x":1}]}',
      '{"default":[{"type":"nope"}]}',
      '{"default":[]}',
      '{"transports":{}}',
      '{"default":[{"type":"signedBy","keyType":"GPGKeys"}]}',
      '{"default":[{"type":"signedBy","keyType":"X509Certificates","keyPath":"/k"}]}',
      '{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k","keyData":"AA=="}]}',
      '{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k","signedIdentity":{"type":"matchExact","x":1}}]}',
      '{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k","signedIdentity":{"type":"exactReference","dockerReference":"a.io/b"}}]}',
      '{"default":[{"type":"sigstoreSigned","keyPath":"/k","fulcio":{}}]}',
      '{"default":[{"type":"reject"}],"transports":{"bogus":{}}}',
      '{"default":[{"type":"reject"}],"transports":{"oci":{"relative/path":[{"type":"reject"}]}}}',
      '{"default":[{"type":"reject"}],"transports":{"docker-archive":{"/x":[{"type":"reject"}]}}}',
    ];
    for (const b of bad) expect(() => parsePolicy(b), b).toThrow(/invalid policy/);
  });

  it('finds policy files in order and defaults to accept-anything when none exists', async () => {
    const home = join(dir, 'home');
    const notes: string[] = [];
    const p0 = await loadPolicy({ home, etcPath: join(dir, 'none.json'), debug: (m) => notes.push(m) });
    expect(p0.default).toEqual([{ type: 'insecureAcceptAnything' }]);
    expect(notes.join()).toMatch(/default policy/);
    writeFileSync(join(dir, 'etc.json'), '{"default":[{"type":"reject"}]}');
    expect((await loadPolicy({ home, etcPath: join(dir, 'etc.json') })).source).toBe(join(dir, 'etc.json'));
    mkdirSync(join(home, '.config/containers'), { recursive: true });
    writeFileSync(join(home, '.config/containers/policy.json'), '{"default":[{"type":"insecureAcceptAnything"}]}');
    expect((await loadPolicy({ home, etcPath: join(dir, 'etc.json') })).source).toBe(join(home, '.config/containers/policy.json'));
    await expect(loadPolicy({ path: join(dir, 'missing.json') })).rejects.toThrow(/missing.json/);
    expect((await loadPolicy({ path: join(dir, 'etc.json'), insecure: true })).default[0]!.type).toBe('insecureAcceptAnything');
  });

  it('matches scopes most-specific first', () => {
    const p = parsePolicy(JSON.stringify({
      default: [{ type: 'reject' }],
      transports: {
        docker: { 'a.io/ns/app:1': [{ type: 'insecureAcceptAnything' }], 'a.io/ns/app': [{ type: 'reject' }], 'a.io/ns': [{ type: 'insecureAcceptAnything' }], 'a.io': [{ type: 'reject' }], '*.b.io': [{ type: 'insecureAcceptAnything' }], '': [{ type: 'reject' }] },
        oci: { '/srv/images': [{ type: 'insecureAcceptAnything' }] },
        dir: { '/srv/dirs/one': [{ type: 'insecureAcceptAnything' }] },
        store: { 'localhost/app': [{ type: 'insecureAcceptAnything' }] },
      },
    }));
    const scopeOf = (s: string) => requirementsFor(p, policyScopeOf(parseImageName(s))).scope;
    expect(scopeOf('docker://a.io/ns/app:1')).toBe('docker:a.io/ns/app:1');
    expect(scopeOf('docker://a.io/ns/app:2')).toBe('docker:a.io/ns/app');
    expect(scopeOf('docker://a.io/ns/other:2')).toBe('docker:a.io/ns');
    expect(scopeOf('docker://a.io/x:2')).toBe('docker:a.io');
    expect(scopeOf('docker://r.b.io/x:2')).toBe('docker:*.b.io');
    expect(scopeOf('docker://c.io/x:2')).toBe('docker:""');
    expect(scopeOf('oci:/srv/images/one:latest')).toBe('oci:/srv/images');
    expect(scopeOf('oci:/elsewhere:latest')).toBe('default');
    expect(scopeOf('dir:/srv/dirs/one')).toBe('dir:/srv/dirs/one');
    expect(scopeOf('store:localhost/app:1')).toBe('store:localhost/app');
    expect(scopeOf('docker-archive:/x.tar')).toBe('default');
  });

  it('identity forms', () => {
    const cases: [Parameters<typeof identityMatches>[0], string | undefined, string, boolean][] = [
      [{ type: 'matchExact' }, 'a.io/b:1', 'a.io/b:1', true],
      [{ type: 'matchExact' }, 'a.io/b:1', 'a.io/b:2', false],
      [{ type: 'matchExact' }, undefined, 'a.io/b:2', false],
      [{ type: 'matchRepoDigestOrExact' }, 'a.io/b:1', 'a.io/b:1', true],
      [{ type: 'matchRepoDigestOrExact' }, 'a.io/b:1', 'a.io/b:2', false],
      [{ type: 'matchRepoDigestOrExact' }, `a.io/b@${D}`, 'a.io/b:2', true],
      [{ type: 'matchRepoDigestOrExact' }, `a.io/b@${D}`, 'a.io/c:2', false],
      [{ type: 'matchRepository' }, 'a.io/b:1', 'a.io/b:9', true],
      [{ type: 'matchRepository' }, 'a.io/b:1', 'a.io/c:1', false],
      [{ type: 'exactReference', dockerReference: 'busybox:1' }, undefined, 'docker.io/library/busybox:1', true],
      [{ type: 'exactReference', dockerReference: 'busybox:1' }, 'a.io/b:1', 'docker.io/library/busybox:2', false],
      [{ type: 'exactRepository', dockerRepository: 'a.io/b' }, undefined, 'a.io/b:7', true],
      [{ type: 'exactRepository', dockerRepository: 'a.io/b' }, undefined, 'a.io/bb:7', false],
      [{ type: 'remapIdentity', prefix: 'mirror.io/ns', signedPrefix: 'a.io/ns' }, 'mirror.io/ns/app:1', 'a.io/ns/app:1', true],
      [{ type: 'remapIdentity', prefix: 'mirror.io/ns', signedPrefix: 'a.io/ns' }, 'mirror.io/ns/app:1', 'mirror.io/ns/app:1', false],
      [{ type: 'remapIdentity', prefix: 'mirror.io/ns', signedPrefix: 'a.io/ns' }, 'mirror.io/nsx/app:1', 'mirror.io/nsx/app:1', true],
      [{ type: 'remapIdentity', prefix: 'mirror.io', signedPrefix: 'a.io' }, 'mirror.io/x/app:1', 'a.io/x/app:1', true],
    ];
    for (const [si, intended, signed, want] of cases) expect(identityMatches(si, intended === undefined ? undefined : n(intended), n(signed)), `${si.type} ${intended} ${signed}`).toBe(want);
  });

  it('SG-01 default reject; signedBy without signatures rejected; insecureAcceptAnything passes', async () => {
    const p = parsePolicy(JSON.stringify({
      default: [{ type: 'reject' }],
      transports: { docker: { '127.0.0.1:5000/carol': [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: join(dir, 'alice.pub') }], '127.0.0.1:5000/open': [{ type: 'insecureAcceptAnything' }] } },
    }));
    expect(await evaluatePolicy(p, input('127.0.0.1:5000/other/app:1', []))).toMatchObject({ allowed: false, reason: /rejected/ });
    const r = await evaluatePolicy(p, input('127.0.0.1:5000/carol/app:1', []));
    expect(r).toMatchObject({ allowed: false });
    expect(!r.allowed && r.reason).toMatch(/no signature exists/);
    expect(await evaluatePolicy(p, input('127.0.0.1:5000/open/app:1', []))).toMatchObject({ allowed: true });
    expect(await evaluatePolicy(p, input('127.0.0.1:5000/carol/app:1', [await simple(alice, '127.0.0.1:5000/carol/app:1')]))).toMatchObject({ allowed: true });
  }, 30_000);

  it('SG-02 bob\'s repo signed with alice\'s key is rejected', async () => {
    const p: Policy = parsePolicy(JSON.stringify({
      default: [{ type: 'reject' }],
      transports: { docker: { '127.0.0.1:5000/bob': [{ type: 'signedBy', keyType: 'GPGKeys', keyPaths: [join(dir, 'bob.pub')] }] } },
    }));
    const ref = '127.0.0.1:5000/bob/app:1';
    const r = await evaluatePolicy(p, input(ref, [await simple(alice, ref)]));
    expect(r.allowed).toBe(false);
    expect(!r.allowed && r.reason).toMatch(/invalid signature/);
    expect((await evaluatePolicy(p, input(ref, [await simple(alice, ref), await simple(bob, ref)]))).allowed).toBe(true);
    // right key, wrong identity
    expect((await evaluatePolicy(p, input(ref, [await simple(bob, '127.0.0.1:5000/bob/other:1')]))).allowed).toBe(false);
    // keyData form
    const pd = parsePolicy(JSON.stringify({ default: [{ type: 'signedBy', keyType: 'GPGKeys', keyData: bob.run(['--export', bob.fingerprint]).toString('base64') }] }));
    expect((await evaluatePolicy(pd, input(ref, [await simple(bob, ref)]))).allowed).toBe(true);
    // every requirement must pass
    const both = parsePolicy(JSON.stringify({ default: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: join(dir, 'bob.pub') }, { type: 'signedBy', keyType: 'GPGKeys', keyPath: join(dir, 'alice.pub') }] }));
    expect((await evaluatePolicy(both, input(ref, [await simple(bob, ref)]))).allowed).toBe(false);
    expect((await evaluatePolicy(both, input(ref, [await simple(bob, ref), await simple(alice, ref)]))).allowed).toBe(true);
  }, 30_000);

  it('SG-04 a signature for another manifest digest is rejected by the policy', async () => {
    const p = parsePolicy(JSON.stringify({ default: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: join(dir, 'alice.pub') }] }));
    const ref = 'a.io/app:1';
    const r = await evaluatePolicy(p, input(ref, [await simple(alice, ref)], new TextEncoder().encode('{"other":1}')));
    expect(!r.allowed && r.reason).toMatch(/manifest digest/);
  }, 30_000);

  it('sigstoreSigned requirement', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    writeFileSync(join(dir, 'cosign.pub'), publicKey.export({ format: 'pem', type: 'spki' }));
    const p = parsePolicy(JSON.stringify({ default: [{ type: 'sigstoreSigned', keyPath: join(dir, 'cosign.pub') }] }));
    const ref = 'a.io/app:1';
    const sig: ImageSignature = { format: 'sigstore', ...signSigstore(D, ref, privateKey) };
    expect((await evaluatePolicy(p, input(ref, [sig]))).allowed).toBe(true);
    expect((await evaluatePolicy(p, input('a.io/app:2', [sig]))).allowed).toBe(false);
    expect((await evaluatePolicy(p, input(ref, []))).allowed).toBe(false);
    // a simple-signing signature does not satisfy sigstoreSigned
    expect((await evaluatePolicy(p, input(ref, [await simple(alice, ref)]))).allowed).toBe(false);
    const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    expect((await evaluatePolicy(p, input(ref, [{ format: 'sigstore', ...signSigstore(D, ref, other) }]))).allowed).toBe(false);
  }, 30_000);
});
