// Issue 11 item 3: a signing copy signs what the registry holds. The real registry sits behind a fault proxy that
// rewrites the manifest pushed under some tags (a fault nothing real produces) and drops Docker-Content-Digest from
// the PUT answer, or from every manifest answer. The copy must fail naming both digests and leave no signature
// (lookaside file or sigstore attachment) anywhere; without the header it must still confirm the tag's digest, and
// --digestfile names what the tag holds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { scratchDir } from '../../helpers/tmp.ts';
import { REGISTRY_BIN, sha256, startRegistry, type TestRegistry } from '../../helpers/registry.ts';
import { ct, ctAsync } from '../../helpers/copy-tool.ts';
import { startFaultServer, type FaultServer } from '../../helpers/fault-server.ts';
import { hasGpg, makeOciLayout, writePolicy } from './copy-sign-helpers.ts';
import { makeGpgHome, type TestGpgHome } from '../../unit/signature/gpg-home.ts';

/** Forwards one request to the registry; `edit` may change the response headers. */
function forward(reg: TestRegistry, method: string, url: string, headers: Record<string, unknown>, body: Buffer): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const h = { ...headers, host: reg.host, 'content-length': String(body.length) } as Record<string, string>;
    delete h['transfer-encoding'];
    const q = request(`${reg.url}${url}`, { method, headers: h }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 502, headers: { ...res.headers }, body: Buffer.concat(parts) }));
      res.on('error', reject);
    });
    q.on('error', reject);
    q.end(body);
  });
}

describe.skipIf(!existsSync(REGISTRY_BIN) || !hasGpg)('signing copies sign what the registry stored', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let reg: TestRegistry;
  let proxy: FaultServer;
  let lookaside: string;
  let regd: string;
  let policy: string;
  let gpgKey: string;
  let cosignKey: string;
  let pass: string;
  let alice: TestGpgHome | undefined;

  beforeAll(async () => {
    ({ dir, cleanup } = await scratchDir('skiff-sign-order-'));
    reg = await startRegistry();
    proxy = await startFaultServer(async (req, res, body) => {
      const url = req.url ?? '/';
      const m = /\/manifests\/([^/?]+)$/.exec(url);
      const tag = m?.[1] ?? '';
      let send = body;
      if (req.method === 'PUT' && tag.startsWith('rw-')) {
        const doc = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
        doc.annotations = { 'rewritten-by': 'fault-proxy' };
        send = Buffer.from(JSON.stringify(doc));
      }
      const out = await forward(reg, req.method ?? 'GET', url, req.headers as Record<string, unknown>, send);
      const dropPut = req.method === 'PUT' && (tag.endsWith('-nohdr') || tag.endsWith('-none'));
      const dropAll = tag.endsWith('-none');
      if (dropPut || dropAll) delete out.headers['docker-content-digest'];
      delete out.headers['transfer-encoding'];
      res.writeHead(out.status, out.headers as Record<string, string>);
      res.end(req.method === 'HEAD' ? undefined : out.body);
    });
    lookaside = join(dir, 'lookaside');
    mkdirSync(lookaside);
    regd = join(dir, 'registries.d');
    mkdirSync(regd);
    writeFileSync(join(regd, 'test.yaml'), `docker:\n  ${proxy.host}:\n    lookaside-staging: file://${lookaside}\n  ${proxy.host}/cosign:\n    use-sigstore-attachments: true\n`);
    policy = writePolicy(join(dir, 'policy.json'), {}, { defaultReject: false });
    pass = join(dir, 'pass');
    writeFileSync(pass, 'pw\n');
    const gen = ct(['generate-sigstore-key', '--output-prefix', join(dir, 'cosign'), '--passphrase-file', pass]);
    expect(gen.status, gen.stderr).toBe(0);
    cosignKey = join(dir, 'cosign.private');
    alice = makeGpgHome(dir, 'alice');
    gpgKey = join(dir, 'alice.key');
    alice.exportSecret(gpgKey);
  }, 120_000);

  afterAll(async () => {
    alice?.kill();
    await proxy?.stop();
    await reg?.stop();
    await cleanup?.();
  });

  const layout = (name: string) => {
    const p = join(dir, `layout-${name}`);
    if (!existsSync(p)) makeOciLayout(p, `content of ${name}\n`);
    return { ref: `oci:${p}:latest`, digest: sha256(readFileSync(join(p, 'blobs/sha256', (JSON.parse(readFileSync(join(p, 'index.json'), 'utf8')) as { manifests: { digest: string }[] }).manifests[0]!.digest.slice(7)))) };
  };
  /** A signing copy: simple signing into the lookaside for app/, a sigstore attachment for cosign/. */
  const copy = (repo: string, args: string[]) =>
    ctAsync([
      ...['--policy', policy, '--registries.d', regd, 'copy', '--src-tls-verify=false', '--dest-tls-verify=false'],
      ...(repo === 'app' ? ['--sign-by-key', gpgKey] : ['--sign-by-sigstore-private-key', cosignKey, '--sign-passphrase-file', pass]),
      ...args,
    ]);
  /** The digest the real registry holds under repo:tag (asked directly, not through the proxy). */
  const heldDigest = (repo: string, tag: string) =>
    fetch(`${reg.url}/v2/${repo}/manifests/${tag}`, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } }).then((r) => r.headers.get('docker-content-digest'));
  const tagsOf = (repo: string) => fetch(`${reg.url}/v2/${repo}/tags/list`).then(async (r) => ((await r.json()) as { tags?: string[] }).tags ?? []);

  for (const tag of ['rw-hdr', 'rw-nohdr', 'rw-none']) {
    it(`a registry that rewrites the manifest (${tag}): the copy fails naming both digests and no signature is left`, async () => {
      const src = layout(tag);
      const digestfile = join(dir, `${tag}.digest`);
      for (const repo of ['app', 'cosign']) {
        const r = await copy(repo, ['--digestfile', digestfile, src.ref, `docker://${proxy.host}/${repo}:${tag}`]);
        const held = await heldDigest(repo, tag);
        expect(held).toMatch(/^sha256:/);
        expect(held).not.toBe(src.digest);
        expect(r.status, r.stderr).toBe(1);
        expect(r.stderr).toContain(src.digest);
        expect(r.stderr).toContain(held!);
        expect(r.stderr).toMatch(/the registry stored sha256:\w+, not sha256:/);
        expect(existsSync(digestfile)).toBe(false);
        // nothing signed: no lookaside directory for either digest, no attachment tag for either
        expect(readdirSync(lookaside).filter((n) => n.includes(src.digest.slice(7)) || n.includes(held!.slice(7)))).toEqual([]);
        expect((await tagsOf(repo)).filter((t) => t.endsWith('.sig'))).toEqual([]);
      }
    }, 60_000);
  }

  it('without Docker-Content-Digest anywhere, the digest is confirmed from the tag and signed; --digestfile names it', async () => {
    const src = layout('ok-none');
    for (const repo of ['app', 'cosign']) {
      const digestfile = join(dir, `ok-none-${repo}.digest`);
      const r = await copy(repo, ['--digestfile', digestfile, src.ref, `docker://${proxy.host}/${repo}:ok-none`]);
      expect(r.status, r.stderr).toBe(0);
      const held = await heldDigest(repo, 'ok-none');
      expect(held).toBe(src.digest);
      expect(readFileSync(digestfile, 'utf8')).toBe(held);
    }
    // signed for the held digest: a lookaside signature-1 for app/, an attachment for cosign/
    expect(readdirSync(join(lookaside, `app@sha256=${src.digest.slice(7)}`))).toEqual(['signature-1']);
    expect(await tagsOf('cosign')).toContain(`sha256-${src.digest.slice(7)}.sig`);
  }, 60_000);
});
