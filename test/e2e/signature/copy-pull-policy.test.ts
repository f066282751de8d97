// The trust policy where skiff pulls (issue 4): run-tool pull and build-tool FROM evaluate policy.json with the
// source's signatures (lookaside per registries.d) before anything is stored; a rejected image is not stored.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { scratchDir, isRoot } from '../../helpers/tmp.ts';
import { REGISTRY_BIN, startRegistry, type TestRegistry } from '../../helpers/registry.ts';
import { ct, skopeo } from '../../helpers/copy-tool.ts';
import { makeGpgHome, type TestGpgHome } from '../../unit/signature/gpg-home.ts';
import { BUILD_TOOL, RUN_TOOL, hasGpg, makeOciLayout, signedBy, tool, writePolicy } from './copy-sign-helpers.ts';

// run-tool and build-tool read registries.d from the system directory (as podman does): this test writes a file
// for its own 127.0.0.1:PORT scope there and removes it afterwards.
describe.skipIf(!existsSync(REGISTRY_BIN) || !hasGpg || !isRoot)('policy on run-tool pull and build-tool FROM', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let reg: TestRegistry;
  let alice: TestGpgHome;
  let H: string;
  let etcRegd: string;
  let lookaside: string;
  let pAlice: string;
  let pReject: string;
  const ok = (r: { status: number | null; stderr: string; stdout: string }) => {
    if (r.status !== 0) throw new Error(`exit ${r.status}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  };

  beforeAll(async () => {
    ({ dir, cleanup } = await scratchDir('skiff-pull-policy-'));
    reg = await startRegistry();
    H = reg.host;
    alice = makeGpgHome(dir, 'alice');
    alice.exportPublic(join(dir, 'alice.pub'));
    alice.exportSecret(join(dir, 'alice.key'));
    lookaside = join(dir, 'sigstore');
    mkdirSync(lookaside);
    mkdirSync('/etc/containers/registries.d', { recursive: true });
    etcRegd = `/etc/containers/registries.d/skiff-test-${randomBytes(6).toString('hex')}.yaml`;
    writeFileSync(etcRegd, `docker:\n  ${H}:\n    lookaside: file://${lookaside}\n    lookaside-staging: file://${lookaside}\n`);
    makeOciLayout(join(dir, 'signed'), 'signed\n');
    makeOciLayout(join(dir, 'unsigned'), 'unsigned\n');
    const tls = ['--dest-tls-verify=false'];
    ok(ct(['--insecure-policy', 'copy', ...tls, '--sign-by-key', join(dir, 'alice.key'), `oci:${join(dir, 'signed')}:latest`, `docker://${H}/lib/signed:1`]));
    ok(ct(['--insecure-policy', 'copy', ...tls, `oci:${join(dir, 'unsigned')}:latest`, `docker://${H}/lib/unsigned:1`]));
    pAlice = writePolicy(join(dir, 'p-alice.json'), { [H]: [signedBy(join(dir, 'alice.pub'))] });
    pReject = join(dir, 'p-reject.json');
    writeFileSync(pReject, JSON.stringify({ default: [{ type: 'reject' }] }));
  }, 120_000);

  afterAll(async () => {
    rmSync(etcRegd, { force: true });
    alice?.kill();
    await reg?.stop();
    await cleanup?.();
  });

  it('SG-01 run-tool pull: rejected images exit 125 with one line and are not stored; signed ones are stored with their signatures', () => {
    const root = join(dir, 'rt');
    const r = tool(RUN_TOOL, ['--root', root, 'pull', '--tls-verify=false', '--policy', pAlice, `${H}/lib/unsigned:1`]);
    expect(r.status).toBe(125);
    expect(r.stderr).toMatch(/Source image rejected: A signature was required, but no signature exists/);
    const r2 = tool(RUN_TOOL, ['--root', root, 'pull', '--tls-verify=false', '--signature-policy', pReject, `${H}/lib/signed:1`]);
    expect(r2.status).toBe(125);
    expect(r2.stderr).toMatch(/Source image rejected: Running image is rejected by policy/);
    expect(ok(tool(RUN_TOOL, ['--root', root, 'images', '-q']))).toBe('');
    const id = ok(tool(RUN_TOOL, ['--root', root, 'pull', '-q', '--tls-verify=false', '--policy', pAlice, `${H}/lib/signed:1`])).trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    // the store keeps the signature beside the image: <root>/signatures/sha256-<hex>/signature-1
    const digest = ok(skopeo(['inspect', '--tls-verify=false', '--format', '{{.Digest}}', `docker://${H}/lib/signed:1`])).trim();
    expect(readdirSync(join(root, 'signatures', `sha256-${digest.slice(7)}`))).toEqual(['signature-1']);
    // and the store is a verifiable source: store: → dir: under a policy requiring alice for the store scope
    const pStore = join(dir, 'p-store.json');
    writeFileSync(pStore, JSON.stringify({ default: [{ type: 'reject' }], transports: { store: { '': [signedBy(join(dir, 'alice.pub'), { type: 'matchRepository' })] } } }));
    ok(ct(['--policy', pStore, '--root', root, 'copy', `store:${H}/lib/signed:1`, `dir:${join(dir, 'from-store')}`]));
    expect(existsSync(join(dir, 'from-store', 'signature-1'))).toBe(true);
    // --insecure-policy pulls anything
    ok(tool(RUN_TOOL, ['--root', root, 'pull', '-q', '--tls-verify=false', '--insecure-policy', `${H}/lib/unsigned:1`]));
  });

  it('SG-01 build-tool FROM: a rejected base image fails the build and is not stored', () => {
    const root = join(dir, 'bt');
    const ctx = join(dir, 'ctx');
    mkdirSync(ctx, { recursive: true });
    writeFileSync(join(ctx, 'Containerfile'), `FROM ${H}/lib/unsigned:1\nLABEL a=b\n`);
    const r = tool(BUILD_TOOL, ['build', '--root', root, '--tls-verify=false', '--policy', pAlice, '-t', 'localhost/x:1', ctx]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/Source image rejected/);
    expect(ok(tool(RUN_TOOL, ['--root', root, 'images', '-q']))).toBe('');
    writeFileSync(join(ctx, 'Containerfile'), `FROM ${H}/lib/signed:1\nLABEL a=b\n`);
    ok(tool(BUILD_TOOL, ['build', '--root', root, '--tls-verify=false', '--policy', pAlice, '-t', 'localhost/x:1', ctx]));
    expect(ok(tool(RUN_TOOL, ['--root', root, 'images', '--format', '{{.Repository}}:{{.Tag}}'])).split('\n').filter(Boolean).sort()).toEqual([`${H}/lib/signed:1`, 'localhost/x:1']);
  });
});
