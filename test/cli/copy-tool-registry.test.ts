// copy-tool delete, list-tags, manifest-digest, login/logout and per-side credentials against a real registry
// with htpasswd auth and deletes enabled, compared with skopeo.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scratchDir } from '../helpers/tmp.ts';
import { REGISTRY_BIN, startRegistry, type TestRegistry } from '../helpers/registry.ts';
import { ct, ctJson, ok, skopeo } from '../helpers/copy-tool.ts';
import { makeImage, putImage } from '../unit/transport/fixtures.ts';

describe.skipIf(!existsSync(REGISTRY_BIN))('copy-tool delete, list-tags, manifest-digest, login/logout', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let reg: TestRegistry;
  let creds: string;
  let digest: string;
  const N = '--tls-verify=false';

  beforeAll(async () => {
    ({ dir, cleanup } = await scratchDir('skiff-ct-registry-'));
    reg = await startRegistry({ auth: 'htpasswd', deleteEnabled: true });
    creds = `${reg.user}:${reg.password}`;
    digest = (await putImage(join(dir, 'src'), await makeImage('registry-cmds'), 'v1')).desc.digest;
    const other = await putImage(join(dir, 'src'), await makeImage('registry-cmds-other'), 'v2');
    void other;
    for (const t of ['a', 'b', 'c', '1.0', 'latest']) ok(ct(['copy', '-q', '--dest-tls-verify=false', '--dest-creds', creds, `oci:${dir}/src:v1`, `docker://${reg.host}/lt/app:${t}`]), `push ${t}`);
  });
  afterAll(async () => {
    await reg?.stop();
    await cleanup?.();
  });

  it('--src-creds/--dest-creds: a registry copy needs them, anonymous access is refused with exit 1', () => {
    const anon = ct(['copy', '-q', '--src-tls-verify=false', `docker://${reg.host}/lt/app:a`, `oci:${dir}/anon:1`]);
    expect(anon.status).toBe(1);
    expect(anon.stderr).toMatch(/^Error: .*(401|unauthori[sz]ed|authentication required)/im);
    expect(anon.stderr).not.toContain(reg.password);
    const r = ct(['copy', '-q', '--src-tls-verify=false', '--dest-tls-verify=false', '--src-creds', creds, '--dest-creds', creds, `docker://${reg.host}/lt/app:a`, `docker://${reg.host}/other/app:x`]);
    expect(r.status, r.stderr).toBe(0);
    const wrong = ct(['copy', '-q', '--src-tls-verify=false', '--src-creds', `${reg.user}:nope`, `docker://${reg.host}/lt/app:a`, `oci:${dir}/anon:1`]);
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).not.toContain('nope');
  });

  it('list-tags prints skopeo\'s {Repository, Tags} JSON', () => {
    const mine = ct(['list-tags', N, '--creds', creds, `docker://${reg.host}/lt/app`]);
    expect(mine.status, mine.stderr).toBe(0);
    const theirs = skopeo(['list-tags', N, '--creds', creds, `docker://${reg.host}/lt/app`]);
    expect(theirs.status, theirs.stderr).toBe(0);
    expect(mine.stdout).toBe(theirs.stdout);
    const parsed = JSON.parse(mine.stdout) as { Repository: string; Tags: string[] };
    expect(parsed.Repository).toBe(`${reg.host}/lt/app`);
    expect([...parsed.Tags].sort()).toEqual(['1.0', 'a', 'b', 'c', 'latest']);
    // a tag in the argument is refused; an unknown repository exits 2
    expect(ct(['list-tags', N, '--creds', creds, `docker://${reg.host}/lt/app:a`]).status).toBe(1);
    const none = ct(['list-tags', N, '--creds', creds, `docker://${reg.host}/lt/nothing`]);
    expect(none.status).toBe(2);
    expect(none.stderr).toContain('lt/nothing');
  });

  it('manifest-digest matches skopeo manifest-digest', () => {
    const raw = ct(['inspect', '--raw', N, '--creds', creds, `docker://${reg.host}/lt/app:a`]).stdout;
    const f = join(dir, 'manifest.json');
    writeFileSync(f, raw);
    const mine = ct(['manifest-digest', f]);
    expect(mine.status).toBe(0);
    expect(mine.stdout).toBe(`${digest}\n`);
    expect(mine.stdout).toBe(skopeo(['manifest-digest', f]).stdout);
    // exact bytes: a reformatted manifest has another digest
    writeFileSync(join(dir, 'pretty.json'), JSON.stringify(JSON.parse(raw), null, 2));
    expect(ct(['manifest-digest', join(dir, 'pretty.json')]).stdout).toBe(skopeo(['manifest-digest', join(dir, 'pretty.json')]).stdout);
    const missing = ct(['manifest-digest', join(dir, 'nope.json')]);
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toContain('nope.json');
  });

  it('delete removes the manifest (its tags are gone); deleting a missing tag exits 2', () => {
    ok(ct(['copy', '-q', '--dest-tls-verify=false', '--dest-creds', creds, `oci:${dir}/src:v2`, `docker://${reg.host}/del/app:gone`]), 'push');
    ok(ct(['copy', '-q', '--dest-tls-verify=false', '--dest-creds', creds, `oci:${dir}/src:v1`, `docker://${reg.host}/del/app:stays`]), 'push');
    const r = ct(['delete', N, '--creds', creds, `docker://${reg.host}/del/app:gone`]);
    expect(r.status, r.stderr).toBe(0);
    const after = ct(['inspect', N, '--creds', creds, `docker://${reg.host}/del/app:gone`]);
    expect(after.status).toBe(2);
    expect(ct(['inspect', N, '--creds', creds, `docker://${reg.host}/del/app:stays`]).status).toBe(0);
    expect(skopeo(['inspect', N, '--creds', creds, `docker://${reg.host}/del/app:gone`]).status).not.toBe(0);
    const again = ct(['delete', N, '--creds', creds, `docker://${reg.host}/del/app:gone`]);
    expect(again.status).toBe(2);
    expect(again.stderr.trim().split('\n')).toHaveLength(1);
    expect(again.stderr).toContain(`${reg.host}/del/app:gone`);
    // without credentials the registry refuses: exit 1, nothing deleted
    expect(ct(['delete', N, `docker://${reg.host}/del/app:stays`]).status).toBe(1);
    expect(ct(['inspect', N, '--creds', creds, `docker://${reg.host}/del/app:stays`]).status).toBe(0);
  });

  it('login writes a 0600 auth file others can use; logout removes the entry; a wrong password writes nothing', () => {
    const auth = join(dir, 'auth', 'auth.json');
    const bad = ct(['login', N, '-u', reg.user, '-p', 'wrong-password', '--authfile', auth, reg.host]);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/^Error: .*(invalid username\/password|401|unauthori[sz]ed)/i);
    expect(bad.stderr).not.toContain('wrong-password');
    expect(existsSync(auth)).toBe(false);

    const r = ct(['login', N, '-u', reg.user, '-p', reg.password, '--authfile', auth, reg.host]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Login Succeeded/);
    expect(statSync(auth).mode & 0o777).toBe(0o600);
    const file = JSON.parse(readFileSync(auth, 'utf8')) as { auths: Record<string, { auth: string }> };
    expect(Buffer.from(file.auths[reg.host]!.auth, 'base64').toString()).toBe(creds);
    // copy-tool and skopeo use it without --creds
    const img = `docker://${reg.host}/lt/app:a`;
    expect(ctJson<{ Digest: string }>(['inspect', N, '--authfile', auth, img]).Digest).toBe(digest);
    expect(ct(['inspect', N, img], { env: { REGISTRY_AUTH_FILE: auth } }).status).toBe(0);
    expect(skopeo(['inspect', N, '--authfile', auth, img]).status).toBe(0);

    const out = ct(['logout', '--authfile', auth, reg.host]);
    expect(out.status, out.stderr).toBe(0);
    const left = JSON.parse(readFileSync(auth, 'utf8')) as { auths?: Record<string, unknown> };
    expect(left.auths?.[reg.host]).toBeUndefined();
    const denied = ct(['inspect', N, '--authfile', auth, img]);
    expect(denied.status).toBe(1);
  });

  it('login --password-stdin; logout of a registry not logged in fails', () => {
    const auth = join(dir, 'auth2.json');
    const r = ct(['login', N, '-u', reg.user, '--password-stdin', '--authfile', auth, reg.host], { input: `${reg.password}\n` });
    expect(r.status, r.stderr).toBe(0);
    expect(statSync(auth).mode & 0o777).toBe(0o600);
    expect(ct(['inspect', N, '--authfile', auth, `docker://${reg.host}/lt/app:b`]).status).toBe(0);
    expect(ct(['login', N, '-u', reg.user, '-p', 'x', '--password-stdin', '--authfile', auth, reg.host], { input: 'y\n' }).status).toBe(1);
    ok(ct(['logout', '--authfile', auth, reg.host]), 'logout');
    expect(ct(['logout', '--authfile', auth, reg.host]).status).not.toBe(0);
  });
});
