// An attach made before the start of an AutoRemove container that exits at once (`docker run --rm IMG echo …`) gets
// the whole output even when the container starts, exits and is removed before the attach reads anything: the attach
// holds the log's descriptor from before the start. The race is made deterministic by stopping the service (SIGSTOP)
// once it has answered the attach, starting the container from the CLI and letting the service go on only after the
// container is gone — what a loaded machine does to the service's poll. The CLI's `start -a` reads the same way.
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadById } from '../../../run-tool/containers/state.ts';
import { followContainerLog, openContainerLog, streamLog, type LogEntry } from '../../../run-tool/ops/container-logs.ts';
import { openStore } from '../../../shared/store/store.ts';
import { apiCall, makeApiWorld, startApiService, type ApiService, type ApiWorld } from '../../helpers/api-service.ts';
import { hasBusybox } from '../../helpers/busybox.ts';
import { isRoot } from '../../helpers/tmp.ts';
import { hasConmon, rt } from './core-helpers.ts';

let world: ApiWorld | undefined;
let service: ApiService | undefined;

/** Resolves once container `id` is gone from the store (removed by its AutoRemove cleanup); throws after ~30 s. */
async function removed(root: string, id: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (!(await loadById(root, id))) return;
    await sleep(50);
  }
  throw new Error(`container ${id} was not removed`);
}

/** Docker's 8-byte multiplexed frames of `raw` as [stream, text] pairs. */
function frames(raw: Buffer): [number, string][] {
  const out: [number, string][] = [];
  for (let at = 0; at + 8 <= raw.length;) {
    const n = raw.readUInt32BE(at + 4);
    out.push([raw[at]!, raw.subarray(at + 8, at + 8 + n).toString()]);
    at += 8 + n;
  }
  return out;
}

describe.skipIf(!isRoot || !hasBusybox || !hasConmon)('attach before the start of an AutoRemove container that exits at once', () => {
  beforeAll(async () => {
    world = await makeApiWorld('skiff-api-attach-');
    service = await startApiService({ bundle: world.bundle, root: world.root, sock: world.sock });
  }, 120_000);
  afterAll(async () => {
    if (service) process.kill(service.proc.pid!, 'SIGCONT');
    await service?.stop();
    await world?.close();
  });

  it('a log opened while the container is created reads its whole output after the container is removed; by path nothing is left', async () => {
    const w = world!;
    const store = await openStore(w.root, { create: true });
    try {
      const c = rt(w.bundle, w.root, ['create', '--rm', '--network', 'none', 'localhost/busybox', 'sh', '-c', 'echo hi; echo oops >&2']);
      expect(c.status, c.stderr).toBe(0);
      const id = c.stdout.trim();
      const log = await openContainerLog(w.root, id, { create: true });
      const st = rt(w.bundle, w.root, ['start', id]);
      expect(st.status, st.stderr).toBe(0);
      await removed(w.root, id);
      const got: LogEntry[] = [];
      await followContainerLog(w.root, log, (es) => void got.push(...es), { follow: true, whileCreated: true });
      await log.close();
      expect(got.map((e) => [e.stream, e.text])).toEqual([['stdout', 'hi\n'], ['stderr', 'oops\n']]);
      // what the attach did before: follow the log by its path once the poll saw the start — nothing is there
      await expect(streamLog(store, id, () => {}, { follow: true })).rejects.toThrow(/no container|no such container/);
    } finally {
      await store.close();
    }
  }, 60_000);

  it('the API attach keeps the output when the service is held up until the container has run and been removed (3 times)', async () => {
    const w = world!;
    const svc = service!;
    for (let i = 0; i < 3; i++) {
      const c = await apiCall(w.sock, 'POST', '/v1.41/containers/create', JSON.stringify({ Image: 'localhost/busybox', Cmd: ['sh', '-c', `echo hi ${i}; echo err ${i} >&2`], HostConfig: { AutoRemove: true, NetworkMode: 'none' } }));
      expect(c.status, c.text).toBe(201);
      const id = (JSON.parse(c.text) as { Id: string }).Id;
      const raw = await new Promise<Buffer>((ok, bad) => {
        const s = connect(w.sock);
        const parts: Buffer[] = [];
        let upgraded = false;
        const timer = setTimeout(() => bad(new Error(`no end of the attach; got ${JSON.stringify(Buffer.concat(parts).toString('latin1'))}`)), 40_000);
        s.on('data', (d: Buffer) => {
          parts.push(d);
          if (upgraded || !Buffer.concat(parts).includes('\r\n\r\n')) return;
          upgraded = true;
          // the service has answered the attach: hold it while the container runs, exits and is removed
          process.kill(svc.proc.pid!, 'SIGSTOP');
          const st = rt(w.bundle, w.root, ['start', id]);
          void removed(w.root, id).then(() => process.kill(svc.proc.pid!, 'SIGCONT'), bad);
          if (st.status !== 0) bad(new Error(`start: ${st.stderr}`));
        });
        s.on('end', () => {
          clearTimeout(timer);
          ok(Buffer.concat(parts));
        });
        s.on('error', bad);
        s.write(`POST /v1.41/containers/${id}/attach?stream=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: x\r\nUpgrade: tcp\r\nConnection: Upgrade\r\n\r\n`);
      });
      const head = raw.indexOf('\r\n\r\n');
      expect(raw.subarray(0, head).toString()).toMatch(/^HTTP\/1\.1 101 /);
      expect(frames(raw.subarray(head + 4))).toEqual([[1, `hi ${i}\n`], [2, `err ${i}\n`]]);
    }
  }, 180_000);

  it('start -a of an AutoRemove container prints its whole output and exits with its code (3 times)', () => {
    const w = world!;
    for (let i = 0; i < 3; i++) {
      const c = rt(w.bundle, w.root, ['create', '--rm', '--network', 'none', 'localhost/busybox', 'sh', '-c', `echo out ${i}; echo err ${i} >&2; exit 3`]);
      expect(c.status, c.stderr).toBe(0);
      const r = rt(w.bundle, w.root, ['start', '-a', c.stdout.trim()]);
      expect([r.stdout, r.stderr, r.status]).toEqual([`out ${i}\n`, `err ${i}\n`, 3]);
    }
  }, 120_000);
});
