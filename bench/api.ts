// run-tool's Docker API service vs podman 4.3's `system service`, side by side in the same run (issue 17,
// "Done when"): one cycle is POST containers/create (busybox `true`, --network none), start, wait, DELETE, over
// each tool's unix socket with a kept-alive connection, both services warm (a first cycle is not counted).
//                                                                                   target ≤ 1.0× podman
// The tools alternate cycle by cycle (podman first on even runs), RUNS times; min and median wall times and the
// median ratio skiff/podman are printed. Everything lives on tmpfs (--dir, default /dev/shm); both services are
// killed by PID at the end.
// Usage: npm run bench:api [-- --runs N] [--dir DIR]
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { cleanupMounts, median, min, sh } from './lib.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '10' }, dir: { type: 'string', default: '/dev/shm' } } });
const RUNS = Math.max(1, Number(values.runs));
const ROOT = resolve(import.meta.dirname, '..');
const NODE = join(ROOT, 'node_modules/.bin/node');
const RUN_TOOL = join(ROOT, 'bin/run-tool.mjs');
const base = mkdtempSync(join(values.dir!, 'skiff-bench-api-'));
const SK_ROOT = join(base, 'skiff');
const POD = ['--root', join(base, 'podman-root'), '--runroot', join(base, 'podman-run'), '--storage-driver', 'overlay'];
const IMG = 'localhost/busybox:latest';

function call(sock: string, agent: Agent, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  return new Promise((ok, bad) => {
    const req = request({ socketPath: sock, agent, method, path, headers: { 'Content-Type': 'application/json' } }, (res) => {
      let t = '';
      res.on('data', (c: Buffer) => (t += c.toString())).on('end', () => {
        try {
          ok({ status: res.statusCode ?? 0, json: t.startsWith('{') ? JSON.parse(t) : t });
        } catch (e) {
          bad(e);
        }
      });
    });
    req.on('error', bad);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

async function cycle(sock: string, agent: Agent): Promise<number> {
  const t0 = performance.now();
  const c = await call(sock, agent, 'POST', '/v1.41/containers/create', { Image: IMG, Cmd: ['true'], HostConfig: { NetworkMode: 'none' } });
  if (c.status !== 201) throw new Error(`create on ${sock}: ${c.status} ${JSON.stringify(c.json)}`);
  const id = (c.json as { Id: string }).Id;
  const s = await call(sock, agent, 'POST', `/v1.41/containers/${id}/start`);
  if (s.status !== 204) throw new Error(`start on ${sock}: ${s.status} ${JSON.stringify(s.json)}`);
  const w = await call(sock, agent, 'POST', `/v1.41/containers/${id}/wait`);
  if ((w.json as { StatusCode: number }).StatusCode !== 0) throw new Error(`wait on ${sock}: ${JSON.stringify(w.json)}`);
  const d = await call(sock, agent, 'DELETE', `/v1.41/containers/${id}`);
  if (d.status !== 204) throw new Error(`delete on ${sock}: ${d.status}`);
  return performance.now() - t0;
}

async function up(p: ChildProcess, sock: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (existsSync(sock) && (await call(sock, new Agent(), 'GET', '/_ping').then((r) => r.status === 200, () => false))) return;
    if (p.exitCode !== null) throw new Error(`service for ${sock} exited`);
    await new Promise((ok) => setTimeout(ok, 25));
  }
  throw new Error(`no service on ${sock}`);
}

const services: ChildProcess[] = [];
try {
  if (!existsSync(join(ROOT, 'dist/run-tool.mjs'))) sh(NODE, [join(ROOT, 'scripts/build.mjs')]);
  process.stderr.write(`setting up in ${base}\n`);
  sh('bash', [join(ROOT, 'scripts/make-busybox-rootfs.sh'), join(base, 'rootfs')]);
  sh('tar', ['--numeric-owner', '-C', join(base, 'rootfs'), '-cf', join(base, 'rootfs.tar'), '.']);
  sh(NODE, [RUN_TOOL, '--root', SK_ROOT, 'import', join(base, 'rootfs.tar'), IMG]);
  sh(NODE, [RUN_TOOL, '--root', SK_ROOT, 'save', '-o', join(base, 'bb.tar'), IMG]);
  sh('podman', [...POD, 'load', '-i', join(base, 'bb.tar')]);
  const skSock = join(base, 'skiff.sock');
  const podSock = join(base, 'podman.sock');
  services.push(spawn(NODE, [RUN_TOOL, '--root', SK_ROOT, 'system', 'service', '-t', '0', `unix://${skSock}`], { stdio: 'ignore' }));
  services.push(spawn('podman', [...POD, 'system', 'service', '-t', '0', `unix://${podSock}`], { stdio: 'ignore' }));
  await up(services[0]!, skSock);
  await up(services[1]!, podSock);
  const agents = { skiff: new Agent({ keepAlive: true }), podman: new Agent({ keepAlive: true }) };
  const socks = { skiff: skSock, podman: podSock };
  for (const t of ['skiff', 'podman'] as const) await cycle(socks[t], agents[t]); // warm
  const times = { skiff: [] as number[], podman: [] as number[] };
  for (let i = 0; i < RUNS; i++) {
    for (const t of i % 2 === 0 ? (['podman', 'skiff'] as const) : (['skiff', 'podman'] as const)) times[t].push(await cycle(socks[t], agents[t]));
  }
  const f = (x: number) => x.toFixed(0).padStart(6);
  process.stdout.write(`| API create+start+wait+delete (${RUNS} runs) | skiff min ${f(min(times.skiff))} ms median ${f(median(times.skiff))} ms | podman min ${f(min(times.podman))} ms median ${f(median(times.podman))} ms | ratio ${(median(times.skiff) / median(times.podman)).toFixed(2)}× (target ≤ 1.0×) |\n`);
  for (const a of Object.values(agents)) a.destroy();
} finally {
  for (const p of services) if (p.exitCode === null) p.kill('SIGTERM');
  await new Promise((ok) => setTimeout(ok, 500));
  cleanupMounts(base);
  rmSync(base, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
}
