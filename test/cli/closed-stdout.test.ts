// Issue 11 item 6: `copy-tool inspect … | head -c 300` — a reader that goes away ends the command quietly, as
// SIGPIPE ends a Go tool: no stack trace, no message, exit 141 (128 + SIGPIPE, what the shell shows for skopeo).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scratchDir } from '../helpers/tmp.ts';
import { COPY_TOOL } from '../helpers/copy-tool.ts';
import { digestOf } from '../../shared/oci/digest.ts';

/** An OCI layout whose image config is ~150 KB (3000 Env entries), so inspect writes more than a pipe holds. */
function bigConfigLayout(dir: string): string {
  mkdirSync(join(dir, 'blobs/sha256'), { recursive: true });
  const put = (b: string) => {
    const d = digestOf(b);
    writeFileSync(join(dir, 'blobs/sha256', d.slice(7)), b);
    return { digest: d, size: Buffer.byteLength(b) };
  };
  const env = Array.from({ length: 3000 }, (_, i) => `VAR_${i}=${'x'.repeat(40)}`);
  const cfg = put(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, config: { Env: env } }));
  const m = put(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...cfg }, layers: [] }));
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...m, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }] }));
  return `oci:${dir}:latest`;
}

describe('a closed stdout', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ dir, cleanup } = await scratchDir('skiff-epipe-'));
  });
  afterAll(async () => {
    await cleanup?.();
  });

  it('copy-tool inspect | head -c 300 ends quietly: no stack trace, exit 141', () => {
    const ref = bigConfigLayout(join(dir, 'layout'));
    const errFile = join(dir, 'stderr');
    for (const args of [['inspect', ref], ['inspect', '--config', ref], ['inspect', '--raw', '--config', ref]]) {
      // bash reports each side of the pipe: the tool's status, and what head printed
      const r = spawnSync('bash', ['-c', '"$0" "$1" "${@:2}" 2>"$ERR" | head -c 300 | wc -c; echo "${PIPESTATUS[0]}"', process.execPath, COPY_TOOL, ...args], {
        encoding: 'utf8',
        env: { ...process.env, ERR: errFile },
        timeout: 60_000,
      });
      const [bytes, status] = r.stdout.trim().split('\n').map((l) => l.trim());
      expect(bytes).toBe('300');
      const stderr = readFileSync(errFile, 'utf8');
      expect(stderr, stderr).toBe('');
      expect(status).toBe('141');
    }
  });
});
