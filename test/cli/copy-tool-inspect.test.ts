// copy-tool inspect end to end: field-by-field agreement with skopeo inspect on every transport, --raw, --config,
// --format, --no-tags, RepoTags, and skopeo's exit codes for missing images and malformed references.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { scratchDir } from '../helpers/tmp.ts';
import { busyboxTarball, hasBusybox } from '../helpers/busybox.ts';
import { REGISTRY_BIN, sha256, startRegistry, type TestRegistry } from '../helpers/registry.ts';
import { ct, ctJson, ok, skopeo, skopeoJson } from '../helpers/copy-tool.ts';
import { putIndex } from '../unit/transport/fixtures.ts';

const runTool = (args: string[]) => spawnSync(process.execPath, [join(import.meta.dirname, '../../bin/run-tool.mjs'), ...args], { encoding: 'utf8' });

describe.skipIf(!hasBusybox || !existsSync(REGISTRY_BIN))('copy-tool inspect', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let reg: TestRegistry;
  let root: string;
  let img: string; // docker://…/skiff/bb:1
  const noTls = '--tls-verify=false';

  beforeAll(async () => {
    ({ dir, cleanup } = await scratchDir('skiff-ct-inspect-'));
    reg = await startRegistry();
    root = join(dir, 'root');
    ok(runTool(['--root', root, 'import', '--change', 'ENV A=1', '--change', 'ENV PATH=/bin', '--change', 'LABEL org.example.x=y<&>', '--change', 'CMD ["/bin/sh"]', busyboxTarball(dir), 'bb:1']), 'run-tool import');
    img = `docker://${reg.host}/skiff/bb:1`;
    ok(ct(['copy', '-q', '--root', root, '--dest-tls-verify=false', 'store:bb:1', img]), 'push');
    ok(ct(['copy', '-q', '--src-tls-verify=false', '--dest-tls-verify=false', img, `docker://${reg.host}/skiff/bb:2`]), 'second tag');
    // the peer writes the local copies copy-tool reads
    ok(skopeo(['copy', '--src-tls-verify=false', img, `oci:${dir}/oci:v1`]), 'skopeo → oci');
    ok(skopeo(['copy', '--src-tls-verify=false', img, `dir:${dir}/dir`]), 'skopeo → dir');
    ok(skopeo(['copy', '--src-tls-verify=false', img, `docker-archive:${dir}/d.tar:skiff/bb:1`]), 'skopeo → docker-archive');
    ok(skopeo(['copy', '--src-tls-verify=false', img, `oci-archive:${dir}/o.tar:v1`]), 'skopeo → oci-archive');
    await putIndex(join(dir, 'multi'), 'm');
    ok(ct(['copy', '-q', '--all', '--dest-tls-verify=false', `oci:${join(dir, 'multi')}:m`, `docker://${reg.host}/skiff/multi:m`]), 'push index');
  });
  afterAll(async () => {
    await reg?.stop();
    await cleanup?.();
  });

  /** Compares every field skopeo 1.9.3 prints; LayersData (newer skopeo) must describe the same layers. */
  function agree(ref: string, opts: string[] = [], skip: string[] = []): Record<string, unknown> {
    const mine = ctJson(['inspect', ...opts, ref]);
    const theirs = skopeoJson(['inspect', ...opts, ref]);
    for (const k of Object.keys(theirs)) if (!skip.includes(k)) expect.soft(mine[k], `${ref} ${k}`).toEqual(theirs[k]);
    expect(Object.keys(mine).filter((k) => k !== 'LayersData')).toEqual(Object.keys(theirs));
    const ld = mine.LayersData as { Digest: string; Size: number; MIMEType: string }[];
    expect(ld.map((l) => l.Digest)).toEqual(mine.Layers);
    return mine;
  }

  it('docker:// agrees with skopeo field by field, RepoTags lists every tag', () => {
    const mine = agree(img, [noTls]);
    expect(mine.Name).toBe(`${reg.host}/skiff/bb`);
    expect([...(mine.RepoTags as string[])].sort()).toEqual(['1', '2']);
    expect(mine.Labels).toEqual({ 'org.example.x': 'y<&>' });
    expect(mine.Env).toEqual(['A=1', 'PATH=/bin']);
  });

  it('a multi-platform index: Digest is the index, fields of the host platform', () => {
    const mine = agree(`docker://${reg.host}/skiff/multi:m`, [noTls]);
    expect(mine.Architecture).toBe('amd64');
  });

  it('oci:, dir: and oci-archive: written by skopeo agree with skopeo', () => {
    for (const ref of [`oci:${dir}/oci:v1`, `dir:${dir}/dir`, `oci-archive:${dir}/o.tar:v1`]) {
      const mine = agree(ref);
      expect(mine.RepoTags).toEqual([]);
    }
  });

  it('docker-archive: agrees with skopeo on every field but the synthesized manifest digest', () => {
    // skopeo synthesizes the manifest with a gzip layer media type for uncompressed layers; skiff says diff.tar
    // (reported), so the digests of the two synthesized manifests differ; every other field agrees.
    const mine = agree(`docker-archive:${dir}/d.tar`, [], ['Digest']);
    const raw = ct(['inspect', '--raw', `docker-archive:${dir}/d.tar`]);
    expect(mine.Digest).toBe(sha256(raw.stdout));
    expect(mine.Name).toBeUndefined(); // as skopeo: no reference given
  });

  it('store: reads the local store', () => {
    const mine = ctJson(['inspect', '--root', root, 'store:bb:1']);
    const reg1 = ctJson(['inspect', noTls, img]);
    for (const k of ['Digest', 'Created', 'Labels', 'Env', 'Layers', 'Architecture', 'Os']) expect(mine[k], k).toEqual(reg1[k]);
    expect(mine.Name).toBe('localhost/bb');
  });

  it('--raw prints the registry manifest bytes exactly', async () => {
    const r = ct(['inspect', '--raw', noTls, img]);
    expect(r.status).toBe(0);
    const res = await fetch(`${reg.url}/v2/skiff/bb/manifests/1`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' } });
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(Buffer.from(r.stdout)).toEqual(bytes);
    expect(sha256(bytes)).toBe(res.headers.get('docker-content-digest'));
    // an index prints the index, not a platform's manifest
    const idx = ct(['inspect', '--raw', noTls, `docker://${reg.host}/skiff/multi:m`]);
    expect(idx.stdout).toBe(skopeo(['inspect', '--raw', noTls, `docker://${reg.host}/skiff/multi:m`]).stdout);
    expect(JSON.parse(idx.stdout).manifests).toHaveLength(2);
  });

  it('--config equals skopeo inspect --config; --config --raw is the config blob', () => {
    for (const ref of [img, `docker://${reg.host}/skiff/multi:m`]) {
      expect(ct(['inspect', '--config', noTls, ref]).stdout).toBe(skopeo(['inspect', '--config', noTls, ref]).stdout);
      expect(ct(['inspect', '--config', '--raw', noTls, ref]).stdout).toBe(skopeo(['inspect', '--config', '--raw', noTls, ref]).stdout);
    }
    expect(ct(['inspect', '--config', `oci:${dir}/oci:v1`]).stdout).toBe(skopeo(['inspect', '--config', `oci:${dir}/oci:v1`]).stdout);
  });

  it("--format '{{.Digest}}' and --no-tags", () => {
    const d = ctJson<{ Digest: string }>(['inspect', noTls, img]).Digest;
    const r = ct(['inspect', noTls, '--format', '{{.Digest}}', img]);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`${d}\n`);
    expect(r.stdout).toBe(skopeo(['inspect', noTls, '--format', '{{.Digest}}', img]).stdout);
    expect(ct(['inspect', noTls, '--format', '{{.Name}} {{.Architecture}}', img]).stdout).toBe(`${reg.host}/skiff/bb amd64\n`);
    const noTags = ctJson(['inspect', noTls, '--no-tags', img]);
    expect(noTags.RepoTags).toEqual([]);
    const { LayersData: _ld, ...rest } = noTags;
    expect(rest).toEqual(skopeoJson(['inspect', noTls, '--no-tags', img]));
    expect(ctJson(['inspect', noTls, '-n', img]).RepoTags).toEqual([]);
  });

  it('--format is Go text/template as skopeo runs it: functions, maps, and a missing field failing with exit 1', () => {
    const oci = `oci:${dir}/oci:v1`;
    const f = '{{index .Labels "org.example.x"}} {{.Labels.nope}} {{len .Layers}} {{printf "%.7s|%5.2s" .Digest .Os}} {{range .Env}}[{{.}}]{{end}}';
    const mine = ct(['inspect', '--format', f, oci]);
    expect(mine.status).toBe(0);
    expect(mine.stdout).toBe(skopeo(['inspect', '--format', f, oci]).stdout);
    // podman's functions too (skopeo 1.9 registers none of them)
    expect(ct(['inspect', '--format', '{{upper .Architecture}} {{json .Env}}', oci]).stdout).toBe('AMD64 ["A=1","PATH=/bin"]\n');
    const bad = ct(['inspect', '--format', '{{.Nope}}', oci]);
    expect(bad.status).toBe(skopeo(['inspect', '--format', '{{.Nope}}', oci]).status);
    expect(bad.status).toBe(1);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toContain('template: skopeo inspect:1:14: executing "skopeo inspect" at <.Nope>: can\'t evaluate field Nope in type interface {}');
  });

  it('a missing tag, repository or local image exits 2 with one line naming it', () => {
    for (const ref of [`docker://${reg.host}/skiff/bb:nope`, `docker://${reg.host}/skiff/absent:1`, `oci:${dir}/oci:nope`, `dir:${dir}/nodir`, `oci-archive:${dir}/none.tar`, `docker-archive:${dir}/none.tar`]) {
      const r = ct(['inspect', noTls, ref]);
      expect(r.status, `${ref}: ${r.stderr}`).toBe(2);
      expect(r.stdout).toBe('');
      const lines = r.stderr.trimEnd().split('\n');
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/^Error: /);
      const named = ref.replace(/^docker:\/\//, '').replace(/^[a-z-]+:/, '').replace(/:nope$/, '');
      expect(lines[0]).toContain(named);
    }
  });

  it('a malformed reference exits 1; a name without a transport is an error as in skopeo', () => {
    for (const ref of [`docker://${reg.host}/Skiff/BB:1`, `docker://${reg.host}/skiff/bb:bad!tag`, 'docker://', `docker://${reg.host}/skiff/bb@sha256:1234`]) {
      const r = ct(['inspect', noTls, ref]);
      expect(r.status, `${ref}: ${r.stderr}`).toBe(1);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^Error: .*invalid/i);
      expect(skopeo(['inspect', noTls, ref]).status).not.toBe(0);
    }
    for (const ref of ['busybox', `${reg.host}/skiff/bb:1`]) {
      const r = ct(['inspect', noTls, ref]);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(JSON.stringify(ref));
      expect(r.stderr).toMatch(/transport/);
      expect(skopeo(['inspect', noTls, ref]).status).toBe(1);
    }
    const both = ct(['inspect', noTls, '--raw', '--format', '{{.Digest}}', img]);
    expect(both.status).toBe(1);
  });
});
