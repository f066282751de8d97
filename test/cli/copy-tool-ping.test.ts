// The `/v2/` ping identifies a registry only by 200 or 401 (as containers/image): a server answering anything else
// there is refused with one line and a non-zero exit, before any image request is made.
import { describe, expect, it } from 'vitest';
import { ctAsync } from '../helpers/copy-tool.ts';
import { startFaultServer } from '../helpers/fault-server.ts';
import { scratchDir } from '../helpers/tmp.ts';

describe('copy-tool registry ping', () => {
  for (const status of [404, 500]) {
    it(`a /v2/ ping answering ${status} is refused in one line, exit 1, nothing written`, async () => {
      const s = await startFaultServer((req, res) => {
        res.statusCode = req.url === '/v2/' ? status : 200;
        res.end(req.url === '/v2/' ? 'nope' : '{}');
      });
      const { dir, cleanup } = await scratchDir('skiff-ct-ping-');
      try {
        // a private runtime dir: no plain-HTTP memory of this port from an earlier run (a host remembered as plain
        // http gets its first request beside the ping, by design; this test is about a host met for the first time)
        const run = `${dir}/run`;
        const { mkdirSync } = await import('node:fs');
        mkdirSync(run, { mode: 0o700 });
        const r = await ctAsync(['copy', '-q', '--src-tls-verify=false', '--retry-times', '0', `docker://${s.host}/a/b:1`, `oci:${dir}/out:x`], { env: { XDG_RUNTIME_DIR: run } });
        expect(r.status, r.stderr).toBe(1);
        const lines = r.stderr.trim().split('\n');
        expect(lines, r.stderr).toHaveLength(1);
        expect(lines[0]).toMatch(new RegExp(`^Error: cannot use ${s.host.replace(/\./g, '\\.')} as a registry: GET http://${s.host.replace(/\./g, '\\.')}/v2/ answered ${status}`));
        expect(s.requests.filter((q) => q.url !== '/v2/'), 'no image request after a failed ping').toEqual([]);
        const { existsSync } = await import('node:fs');
        expect(existsSync(`${dir}/out`)).toBe(false);
      } finally {
        await s.stop();
        await cleanup();
      }
    });
  }
});
