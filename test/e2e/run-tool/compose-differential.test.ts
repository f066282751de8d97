// Side by side: one docker-compose 1.29 project (a web service publishing a 127.0.0.1 port, a client reaching it by
// service name on the project network, a named volume, depends_on, environment) driven through `up -d`, `ps`, `logs`,
// `exec`, `down -v` against skiff's `system service` and podman 4.3's `podman system service`, each on a private socket
// over a private store (podman with its own --root/--runroot/--tmpdir, network config dir and containers.conf), both
// started here and killed by PID. What compose prints and returns must match (after masking the published port and
// the spacing compose pads to its widest column, and podman's own departure listed in `norm`), and so must the state after each step: containers, the project
// network and volume while up, none of them after `down -v`.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiCall, makeApiWorld, startApiService, startPodmanService, type ApiService, type ApiWorld } from '../../helpers/api-service.ts';
import { hasBusybox } from '../../helpers/busybox.ts';
import { isRoot } from '../../helpers/tmp.ts';
import { hasConmon, rt } from './core-helpers.ts';

const hasCompose = spawnSync('docker-compose', ['version']).status === 0;
const hasPodman = spawnSync('podman', ['--version']).status === 0;
const hasNetavark = existsSync('/usr/lib/podman/netavark');

const PROJECT = 'cdiff';
const COMPOSE_FILE = [
  'version: "3.8"',
  'services:',
  '  web:',
  '    image: localhost/busybox',
  '    command: ["sh", "-c", "echo hello-$$GREETING > /site/index.html; echo web up; exec httpd -f -p 8080 -h /site"]',
  '    ports: ["127.0.0.1:${WEB_PORT}:8080"]',
  '    environment: { GREETING: compose }',
  '    volumes: ["site:/site"]',
  '    stop_grace_period: 1s',
  '  client:',
  '    image: localhost/busybox',
  '    command: ["sh", "-c", "for i in $$(seq 100); do wget -q -O - http://web:8080/index.html && break; sleep 0.2; done; exec sleep 300"]',
  '    depends_on: [web]',
  '    environment: { ROLE: client }',
  '    stop_grace_period: 1s',
  'volumes:',
  '  site:',
  '',
].join('\n');

/** One compose step as compared: the command, its exit status, stdout and stderr with the port masked and runs of spaces folded. */
type Step = [string, number | null, string, string];

/** The project's state as the API reports it: container names with state, the project's networks and volumes. */
interface State { containers: string[]; networks: string[]; volumes: string[] }

/** What compose printed and did, and the project's state after `up` and after `down -v`, against one service. */
interface Run { steps: Step[]; web: string; up: State; down: State }

function httpGet(port: number, path: string): Promise<string> {
  return new Promise((ok) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, timeout: 2000 }, (res) => {
      let t = '';
      res.on('data', (c: Buffer) => (t += c.toString())).on('end', () => ok(t));
    });
    req.on('timeout', () => req.destroy()).on('error', () => ok('')).end();
  });
}

/** `text` with each run of compose's progress lines of one verb sorted: it stops and removes containers in parallel, so they finish in any order. */
function parallelSorted(text: string): string {
  const out: string[] = [];
  let run: string[] = [];
  let verb = '';
  for (const line of text.split('\n')) {
    const v = /^(Creating|Starting|Stopping|Removing) \S+ +\.\.\./.exec(line)?.[1] ?? '';
    if (v !== verb || v === '') {
      out.push(...run.sort());
      run = [];
    }
    verb = v;
    if (v === '') out.push(line);
    else run.push(line);
  }
  return [...out, ...run.sort()].join('\n');
}

async function state(sock: string): Promise<State> {
  const json = async (path: string) => JSON.parse((await apiCall(sock, 'GET', path)).text) as unknown;
  const containers = (await json('/containers/json?all=1')) as { Names: string[]; State: string }[];
  const networks = (await json('/networks')) as { Name: string }[];
  const volumes = ((await json('/volumes')) as { Volumes: { Name: string }[] | null }).Volumes ?? [];
  const mine = (n: string) => n.replace(/^\//, '').startsWith(`${PROJECT}_`);
  return {
    containers: containers.filter((c) => mine(c.Names[0]!)).map((c) => `${c.Names[0]!.replace(/^\//, '')} ${c.State}`).sort(),
    networks: networks.map((n) => n.Name).filter(mine).sort(),
    volumes: volumes.map((v) => v.Name).filter(mine).sort(),
  };
}

/** Runs the project against the service on `sock`, publishing `port`; always ends with `down -v`. */
async function runProject(dir: string, sock: string, port: number): Promise<Run> {
  const proj = join(dir, PROJECT);
  mkdirSync(proj, { recursive: true });
  writeFileSync(join(proj, 'docker-compose.yml'), COMPOSE_FILE);
  const steps: Step[] = [];
  const compose = (args: string[]) => {
    const r = spawnSync('docker-compose', ['-p', PROJECT, '--ansi', 'never', ...args], { cwd: proj, encoding: 'utf8', timeout: 120_000, killSignal: 'SIGKILL', env: { ...process.env, DOCKER_HOST: `unix://${sock}`, WEB_PORT: String(port) } });
    // podman 4.3 reports an empty Health object for a container without a health check, which compose prints as "Up ()"
    const norm = (t: string | null) => parallelSorted((t ?? '').replaceAll(String(port), 'PORT').replaceAll(' Up () ', ' Up ').replace(/ {2,}/g, '  ').replace(/-{5,}/g, '-----'));
    steps.push([args.join(' '), r.status, norm(r.stdout), norm(r.stderr)]);
    return r;
  };
  let web = '';
  let up: State = { containers: [], networks: [], volumes: [] };
  try {
    compose(['up', '-d']);
    for (let i = 0; i < 100 && web === ''; i++) {
      web = await httpGet(port, '/index.html');
      if (web === '') await new Promise((ok) => setTimeout(ok, 100));
    }
    // the client has fetched the page by service name once its log shows it
    for (let i = 0; i < 40; i++) {
      const logs = await apiCall(sock, 'GET', `/containers/${PROJECT}_client_1/logs?stdout=1`);
      if (logs.text.includes('hello-compose')) break;
      await new Promise((ok) => setTimeout(ok, 250));
    }
    compose(['ps']);
    compose(['ps', '-q', 'nosuch']);
    compose(['logs', '--no-color', 'web']);
    compose(['logs', '--no-color', 'client']);
    compose(['exec', '-T', 'client', 'sh', '-c', 'wget -q -O - http://web:8080/index.html; echo role=$ROLE']);
    compose(['exec', '-T', 'web', 'sh', '-c', 'cat /site/index.html; exit 3']);
    compose(['exec', '-T', 'nosuch', 'true']);
    compose(['up', '-d']);
    up = await state(sock);
    compose(['stop', '-t', '1', 'client']);
    compose(['ps']);
  } finally {
    compose(['down', '-v', '-t', '1']);
  }
  compose(['ps']);
  return { steps, web, up, down: await state(sock) };
}

describe.skipIf(!isRoot || !hasBusybox || !hasConmon || !hasPodman || !hasCompose || !hasNetavark)("docker-compose side by side: skiff's service and podman's", () => {
  let w: ApiWorld;
  let bundle = '';
  let root = '';
  let skiff: ApiService | undefined;
  let podman: ApiService | undefined;

  beforeAll(async () => {
    w = await makeApiWorld('skiff-compose-diff-', { podman: true });
    ({ bundle, root } = w);
    skiff = await startApiService({ bundle, root, sock: w.sock });
    podman = await startPodmanService({ podmanArgs: w.podmanArgs, sock: w.podmanSock, env: w.podmanEnv });
  }, 240_000);

  afterAll(async () => {
    await skiff?.stop();
    await podman?.stop();
    if (!w) return;
    rt(bundle, root, ['rm', '-a', '-f']);
    rt(bundle, root, ['network', 'rm', '-f', `${PROJECT}_default`]);
    spawnSync('podman', [...w.podmanArgs, 'rm', '-af', '-t', '0'], { env: w.podmanEnv });
    spawnSync('podman', [...w.podmanArgs, 'network', 'rm', '-f', `${PROJECT}_default`], { env: w.podmanEnv });
    await w.close();
  }, 120_000);

  it('up -d, ps, logs, exec, stop, down -v: the same output, exit codes and resulting state', async () => {
    const base = 22000 + (process.pid % 15000);
    // one project at a time: both would otherwise pick the same first free subnet for cdiff_default
    const theirs = await runProject(join(w.dir, 'p'), podman!.sock, base);
    const ours = await runProject(join(w.dir, 's'), skiff!.sock, base + 1);
    expect(theirs.web).toBe('hello-compose\n');
    expect(ours.web).toBe('hello-compose\n');
    expect(ours.up).toEqual(theirs.up);
    expect(ours.up.containers).toEqual([`${PROJECT}_client_1 running`, `${PROJECT}_web_1 running`]);
    expect(ours.down).toEqual({ containers: [], networks: [], volumes: [] });
    expect(ours.down).toEqual(theirs.down);
    for (const [i, step] of theirs.steps.entries()) expect(ours.steps[i], `step ${i}: ${step[0]}`).toEqual(step);
    expect(ours.steps.length).toBe(theirs.steps.length);
  }, 400_000);
});
