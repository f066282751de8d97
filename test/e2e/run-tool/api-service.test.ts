// run-tool's Docker-compatible API service driven by real clients (python3-docker, the docker CLI) and by raw
// HTTP for the bad-input cases. Each test file's service listens on a socket in its own temp dir and is killed by
// PID at the end; containers run with --network none.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiCall, makeApiWorld, startApiService, stopProcess, waitForApi, type ApiWorld } from '../../helpers/api-service.ts';
import { hasBusybox } from '../../helpers/busybox.ts';
import { REGISTRY_BIN, startRegistry } from '../../helpers/registry.ts';
import { isRoot } from '../../helpers/tmp.ts';
import { hasConmon, rt } from './core-helpers.ts';

const DOCKER = existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';
const hasDocker = spawnSync(DOCKER, ['--version']).status === 0;
// Debian's python3 with python3-docker (another python3 earlier on PATH may lack the module)
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const hasCompose = spawnSync('docker-compose', ['version']).status === 0;
const hasPyDocker = spawnSync(PYTHON, ['-c', 'import docker']).status === 0;

let bundle = '';
let root = '';
let dir = '';
let sock = '';
let world: ApiWorld | undefined;
const services: ChildProcess[] = [];

/** Starts `system service` on `socket` and resolves once it answers; the process is SIGKILLed after the file. */
async function startService(socket: string, extra: string[] = [], env: NodeJS.ProcessEnv = process.env): Promise<ChildProcess> {
  const svc = await startApiService({ bundle, root, sock: socket, extra, env, stdio: ['ignore', 'ignore', 'pipe'] });
  services.push(svc.proc);
  return svc.proc;
}

const kill = (p: ChildProcess, sig: NodeJS.Signals = 'SIGTERM'): Promise<void> => stopProcess(p, sig);

/** One HTTP request over the file's socket (or `o.socket`): status, headers and body text. */
const call = (method: string, path: string, body?: string | Buffer, o: { socket?: string; headers?: Record<string, string | number> } = {}) =>
  apiCall(o.socket ?? sock, method, path, body, o.headers);

const docker = (args: string[], timeout = 60_000) =>
  spawnSync(DOCKER, ['-H', `unix://${sock}`, ...args], { encoding: 'utf8', timeout, env: { ...process.env, DOCKER_CONFIG: join(dir, 'docker-config') } });
const py = (script: string) => spawnSync(PYTHON, ['-c', script, sock], { encoding: 'utf8', timeout: 120_000 });
const names = async (): Promise<string[]> => (JSON.parse((await call('GET', '/containers/json?all=1')).text) as { Names: string[] }[]).map((c) => c.Names[0]!);

describe.skipIf(!isRoot || !hasBusybox || !hasConmon)('run-tool system service (Docker API)', () => {
  beforeAll(async () => {
    world = await makeApiWorld('skiff-api-');
    ({ bundle, dir, root, sock } = world);
    await startService(sock, ['-t', '0']);
  }, 120_000);
  afterAll(async () => {
    for (const p of services) await kill(p, 'SIGKILL');
    await world?.close();
  });

  it('listens on a 0600 socket; _ping (GET and HEAD) carries the API headers on versioned and unversioned paths', async () => {
    expect(statSync(sock).mode & 0o777).toBe(0o600);
    const g = await call('GET', '/_ping');
    expect(g.status).toBe(200);
    expect(g.text).toBe('OK');
    expect(g.headers['api-version']).toBe('1.41');
    expect(g.headers['ostype']).toBe('linux');
    expect(g.headers['docker-experimental']).toBe('false');
    expect((await call('HEAD', '/v1.41/_ping')).status).toBe(200);
    const v = JSON.parse((await call('GET', '/v1.24/version')).text) as Record<string, string>;
    expect([v.ApiVersion, v.MinAPIVersion]).toEqual(['1.41', '1.24']);
    const old = await call('GET', '/v1.12/version');
    expect(old.status).toBe(400);
    expect(JSON.parse(old.text).message).toMatch(/too old. Minimum supported API version is 1.24/);
  });

  it.skipIf(!hasPyDocker)('python3-docker: ping, version, run detached, logs, wait, remove, ImageNotFound', () => {
    const r = py(`
import docker, sys
c = docker.DockerClient(base_url='unix://' + sys.argv[1])
assert c.ping()
print(c.version()['ApiVersion'])
sl = c.containers.run('localhost/busybox', ['sleep', '300'], detach=True, network_mode='none')
print(sl.exec_run(['sh', '-c', 'echo in; exit 2']), sl.exec_run(['sh', '-c', 'echo a; echo b >&2'], demux=True).output)
sl.remove(force=True)
ct = c.containers.run('localhost/busybox', ['sh', '-c', 'echo hello; echo oops >&2; exit 4'], detach=True, network_mode='none', labels={'app': 'py'})
print(ct.wait()['StatusCode'])
print(repr(ct.logs(stdout=True, stderr=False)), repr(ct.logs(stdout=False, stderr=True)))
print(len(c.containers.list(all=True, filters={'label': 'app=py'})), len(c.containers.list(all=True, filters={'label': ['app=py', 'other=1']})))
ct.remove()
try:
    c.images.get('localhost/missing:1')
except docker.errors.ImageNotFound as e:
    print('ImageNotFound')
print(c.images.get('localhost/busybox').tags)
`);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe("1.41\nExecResult(exit_code=2, output=b'in\\n') (b'a\\n', b'b\\n')\n4\nb'hello\\n' b'oops\\n'\n1 0\nImageNotFound\n['localhost/busybox:latest']\n");
    expect(r.status).toBe(0);
  });

  it.skipIf(!hasDocker)('docker CLI: version, info, run -d, ps, logs, inspect, exec, cp (a traversal archive refused), stop, rm, images', async () => {
    expect(docker(['version', '--format', '{{.Server.APIVersion}}']).stdout).toBe('1.41\n');
    expect(docker(['info', '--format', '{{.Images}} {{.Driver}} {{.DefaultRuntime}}']).stdout).toBe('1 overlay runc\n');
    expect(docker(['ps', '-a', '-q']).stdout).toBe('');
    const d = docker(['run', '-d', '--name', 'web', '--network', 'none', 'localhost/busybox', 'sh', '-c', 'echo up; exec sleep 300']);
    expect(d.stderr).toBe('');
    const id = d.stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(docker(['ps', '--format', '{{.Names}} {{.State}}']).stdout).toBe('web running\n');
    for (let i = 0; i < 50 && docker(['logs', 'web']).stdout === ''; i++) spawnSync('sleep', ['0.1']);
    expect(docker(['logs', 'web']).stdout).toBe('up\n');
    expect(docker(['inspect', '--format', '{{.State.Status}} {{.Name}}', 'web']).stdout).toBe('running /web\n');
    // the container is an ordinary skiff container
    expect(rt(bundle, root, ['ps', '--format', '{{.Names}}']).stdout).toBe('web\n');
    const ex = docker(['exec', 'web', 'sh', '-c', 'echo in; echo er >&2; exit 5']);
    expect([ex.stdout, ex.stderr, ex.status]).toEqual(['in\n', 'er\n', 5]);
    const file = join(dir, 'cp-in.txt');
    spawnSync('sh', ['-c', `echo copied > ${file}`]);
    expect(docker(['cp', file, 'web:/tmp/']).status).toBe(0);
    expect(docker(['exec', 'web', 'cat', '/tmp/cp-in.txt']).stdout).toBe('copied\n');
    expect(docker(['cp', 'web:/tmp/cp-in.txt', join(dir, 'cp-out.txt')]).status).toBe(0);
    expect(spawnSync('cat', [join(dir, 'cp-out.txt')], { encoding: 'utf8' }).stdout).toBe('copied\n');
    // a path-traversal archive: 400, nothing written in the container or beside it
    const trav = join(dir, 'trav.tar');
    spawnSync(PYTHON, ['-c', "import tarfile,io,sys\nt=tarfile.open(sys.argv[1],'w')\ni=tarfile.TarInfo('../../../escaped-api');i.size=1\nt.addfile(i,io.BytesIO(b'x'));t.close()", trav]);
    const put = await call('PUT', '/containers/web/archive?path=/tmp', await readFile(trav), { headers: { 'Content-Type': 'application/x-tar' } });
    expect(put.status).toBe(400);
    expect(JSON.parse(put.text).message).toBe('archive entry "../../../escaped-api" would land outside /tmp: nothing was copied');
    expect(docker(['exec', 'web', 'ls', '/', '/tmp']).stdout).not.toMatch(/escaped-api/);
    expect(docker(['stop', '-t', '1', 'web']).status).toBe(0);
    expect(docker(['ps', '-a', '--format', '{{.Names}} {{.State}}']).stdout).toBe('web exited\n');
    expect(docker(['rm', 'web']).status).toBe(0);
    expect(docker(['ps', '-a', '-q']).stdout).toBe('');
    expect(docker(['images', '--format', '{{.Repository}}:{{.Tag}}']).stdout).toBe('localhost/busybox:latest\n');
    const miss = docker(['inspect', 'nosuch']);
    expect(miss.status).toBe(1);
    expect(miss.stderr).toMatch(/No such object: nosuch/);
  });

  it.skipIf(!hasDocker)('docker run --rm exits with the container\'s code (wait?condition=removed) and keeps stdout and stderr apart', () => {
    const r = docker(['run', '--rm', '--network', 'none', 'localhost/busybox', 'sh', '-c', 'exit 3']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(3);
    const f = docker(['run', '--rm', '--network', 'none', 'localhost/busybox', 'sh', '-c', 'sleep 0.3; echo out; echo err >&2; exit 0']);
    expect([f.stdout, f.stderr, f.status]).toEqual(['out\n', 'err\n', 0]);
    expect(docker(['ps', '-a', '-q']).stdout).toBe('');
  });

  it('logs come as 8-byte multiplexed frames; wait?condition=next-exit waits through the start', async () => {
    const c = await call('POST', '/v1.41/containers/create?name=frames', JSON.stringify({ Image: 'localhost/busybox', Cmd: ['sh', '-c', 'echo a; echo bb >&2'], HostConfig: { NetworkMode: 'none' } }));
    expect(c.status).toBe(201);
    const waiting = call('POST', '/v1.41/containers/frames/wait?condition=next-exit');
    expect((await call('POST', '/v1.41/containers/frames/start')).status).toBe(204);
    expect(JSON.parse((await waiting).text)).toEqual({ StatusCode: 0, Error: null });
    expect((await call('POST', '/v1.41/containers/frames/start')).status).toBe(204);
    const raw = await new Promise<Buffer>((ok) => request({ socketPath: sock, path: '/containers/frames/logs?stdout=1&stderr=1&tail=2' }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (x: Buffer) => parts.push(x)).on('end', () => ok(Buffer.concat(parts)));
    }).end());
    expect(raw.toString('hex')).toBe(`0100000000000002${Buffer.from('a\n').toString('hex')}0200000000000003${Buffer.from('bb\n').toString('hex')}`);
    expect((await call('DELETE', '/containers/frames?force=1')).status).toBe(204);
    expect((await call('DELETE', '/containers/frames')).status).toBe(404);
  });

  it('bad input: malformed JSON, an unknown field, a 100 MB body, a name conflict — 4xx JSON, nothing created, still serving', async () => {
    const bad = await call('POST', '/containers/create?name=bad1', '{"Image": "localhost/busybox",');
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.text).message).toMatch(/^malformed JSON request body/);
    const unknown = await call('POST', '/containers/create?name=bad2', JSON.stringify({ Image: 'localhost/busybox', Bogus: 1 }));
    expect(unknown.status).toBe(400);
    expect(JSON.parse(unknown.text).message).toBe('unknown field "Bogus" in the container create body');
    const noImage = await call('POST', '/containers/create?name=bad3', JSON.stringify({ Image: 'localhost/nosuch' }));
    expect(noImage.status).toBe(404);
    expect(JSON.parse(noImage.text).message).toBe('No such image: localhost/nosuch');
    const big = Buffer.alloc(100 * 1024 * 1024, 0x20);
    const huge = await call('POST', '/containers/create?name=bad4', big).catch((e: Error) => ({ status: -1, text: e.message, headers: {} }));
    expect(huge.status).toBe(413);
    expect(JSON.parse(huge.text).message).toMatch(/larger than the 1048576 bytes allowed/);
    const ok = await call('POST', '/containers/create?name=taken', JSON.stringify({ Image: 'localhost/busybox', Cmd: ['true'], HostConfig: { NetworkMode: 'none' } }));
    expect(ok.status).toBe(201);
    const dup = await call('POST', '/containers/create?name=taken', JSON.stringify({ Image: 'localhost/busybox', Cmd: ['true'], HostConfig: { NetworkMode: 'none' } }));
    expect(dup.status).toBe(409);
    expect(JSON.parse(dup.text).message).toMatch(/the container name "taken" is already in use/);
    expect(await names()).toEqual(['/taken']);
    expect((await call('DELETE', '/containers/taken')).status).toBe(204);
    expect((await call('GET', '/_ping')).status).toBe(200);
  });

  it('a body too large, sent whole before the client reads (as python\'s http.client does): every byte is taken, then the 413 is read', async () => {
    // the service answers 413 from the Content-Length before reading the body; closing the connection right after
    // reset this client while it still wrote, so it never read the answer (status -1 under load). Writing all of
    // 32 MB (far more than the socket buffers hold) succeeds only if the service reads the rest of the body.
    const size = 32 * 1024 * 1024;
    const r = await new Promise<{ writeError: string | null; response: string }>((ok) => {
      const s = connect({ path: sock, allowHalfOpen: true });
      const parts: Buffer[] = [];
      let writeError: string | null = 'not written';
      s.on('data', (c: Buffer) => parts.push(c));
      s.on('error', () => {});
      s.on('close', () => ok({ writeError, response: Buffer.concat(parts).toString() }));
      s.write(`POST /v1.41/containers/create?name=bad5 HTTP/1.1\r\nHost: skiff\r\nContent-Type: application/json\r\nContent-Length: ${size}\r\n\r\n`);
      s.write(Buffer.alloc(size, 0x20), (e) => {
        writeError = e ? e.message : null;
        s.end();
      });
    });
    expect(r.writeError).toBeNull();
    expect(r.response).toMatch(/^HTTP\/1\.1 413 /);
    expect(r.response).toMatch(/\r\nConnection: close\r\n/i);
    expect(JSON.parse(r.response.slice(r.response.indexOf('\r\n\r\n') + 4)).message).toMatch(/larger than the 1048576 bytes allowed/);
    expect(await names()).not.toContain('/bad5');
    expect((await call('GET', '/_ping')).status).toBe(200);
  });

  it('networks and volumes: create, inspect, list, a duplicate is 409, delete', async () => {
    expect((await call('POST', '/volumes/create', JSON.stringify({ Name: 'apivol', Labels: { a: 'b' } }))).status).toBe(201);
    expect(JSON.parse((await call('GET', '/volumes/apivol')).text).Labels).toEqual({ a: 'b' });
    expect((await call('POST', '/volumes/create', JSON.stringify({ Name: 'apivol' }))).status).toBe(409);
    expect((JSON.parse((await call('GET', '/volumes')).text) as { Volumes: { Name: string }[] }).Volumes.map((v) => v.Name)).toEqual(['apivol']);
    expect((await call('DELETE', '/volumes/apivol')).status).toBe(204);
    expect((await call('GET', '/volumes/apivol')).status).toBe(404);
    const n = await call('POST', '/networks/create', JSON.stringify({ Name: 'apinet', Labels: { x: 'y' }, CheckDuplicate: true }));
    expect(n.status).toBe(201);
    expect(JSON.parse((await call('GET', '/networks/apinet')).text).Labels).toEqual({ x: 'y' });
    expect((await call('POST', '/networks/create', JSON.stringify({ Name: 'apinet' }))).status).toBe(409);
    expect((await call('DELETE', '/networks/apinet')).status).toBe(204);
    expect((await call('GET', '/networks/apinet')).status).toBe(404);
  });

  it.skipIf(!hasCompose)('docker-compose: up -d of two services (ports, env, named volume, bind mount, depends_on), ps, logs, up-to-date, exec, attached up stopped by Ctrl-C, down -v', async () => {
    const proj = join(dir, 'proj');
    const port = 21000 + (process.pid % 20000);
    spawnSync('mkdir', ['-p', join(proj, 'site')]);
    await writeFile(join(proj, 'site', 'index.html'), 'hello-compose\n');
    await writeFile(join(proj, 'docker-compose.yml'), [
      'version: "3.8"',
      'services:',
      '  web:',
      '    image: localhost/busybox',
      '    command: ["httpd", "-f", "-p", "8080", "-h", "/site"]',
      `    ports: ["127.0.0.1:${port}:8080"]`,
      '    environment: { GREETING: hi }',
      '    volumes: ["./site:/site:ro", "data:/data"]',
      '    depends_on: [worker]',
      '    stop_grace_period: 1s',
      '  worker:',
      '    image: localhost/busybox',
      '    command: ["sh", "-c", "echo worker up; exec sleep 300"]',
      '    stop_grace_period: 1s',
      'volumes:',
      '  data:',
      '',
    ].join('\n'));
    const compose = (args: string[]) => spawnSync('docker-compose', ['-p', 'apiproj', '--no-ansi', ...args], { cwd: proj, encoding: 'utf8', timeout: 120_000, env: { ...process.env, DOCKER_HOST: `unix://${sock}` } });
    const up = compose(['up', '-d']);
    expect(up.status).toBe(0);
    expect(up.stderr).toMatch(/Creating network "apiproj_default"[^]*Creating volume "apiproj_data"[^]*Creating apiproj_worker_1 \.\.\. done[^]*Creating apiproj_web_1 +\.\.\. done/);
    let body = '';
    for (let i = 0; i < 50 && body === ''; i++) {
      body = await new Promise<string>((ok) => request({ host: '127.0.0.1', port, path: '/index.html' }, (res) => {
        let t = '';
        res.on('data', (c: Buffer) => (t += c.toString())).on('end', () => ok(t));
      }).on('error', () => ok('')).end());
      if (body === '') await new Promise((ok) => setTimeout(ok, 100));
    }
    expect(body).toBe('hello-compose\n');
    expect(compose(['ps']).stdout).toMatch(/apiproj_web_1 +httpd -f -p 8080 -h \/site +Up +127\.0\.0\.1:\d+->8080\/tcp\n(.*\n)?apiproj_worker_1 .* Up/);
    expect(compose(['logs', '--no-color', 'worker']).stdout).toMatch(/worker_1 +\| worker up\n/);
    const again = compose(['up', '-d']);
    expect(again.stderr).toMatch(/apiproj_worker_1 is up-to-date\napiproj_web_1 is up-to-date\n/);
    expect(compose(['exec', '-T', 'web', 'sh', '-c', 'echo $GREETING; touch /data/x && echo ok']).stdout).toBe('hi\nok\n');
    // `up` without -d attaches to the services' output; Ctrl-C (SIGINT) stops them
    const attached = spawn('docker-compose', ['-p', 'apiproj', '--no-ansi', 'up', '--no-color'], { cwd: proj, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DOCKER_HOST: `unix://${sock}` } });
    let out = '';
    attached.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    attached.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    for (let i = 0; i < 100 && !/Attaching to/.test(out); i++) await new Promise((ok) => setTimeout(ok, 100));
    expect(out).toMatch(/Attaching to apiproj_worker_1, apiproj_web_1/);
    attached.kill('SIGINT');
    const code = await new Promise<number | null>((ok) => attached.once('exit', (c) => ok(c)));
    expect(out).toMatch(/Gracefully stopping\.\.\./);
    expect(code).toBe(0);
    expect(compose(['ps']).stdout).toMatch(/apiproj_web_1 .* Exit 137/);
    const down = compose(['down', '-v', '-t', '1']);
    expect(down.status).toBe(0);
    expect(await names()).toEqual([]);
    expect(docker(['network', 'ls', '--format', '{{.Name}}']).stdout).not.toMatch(/apiproj/);
    expect(docker(['volume', 'ls', '-q']).stdout).toBe('');
  }, 180_000);

  it.skipIf(!existsSync(REGISTRY_BIN) || !hasPyDocker || !hasDocker)('images: pull from a loopback registry (python3-docker and the docker CLI, streamed progress), tag, delete', async () => {
    const reg = await startRegistry();
    try {
      const c = spawnSync('skopeo', ['copy', '--dest-tls-verify=false', `oci:${root}/images:localhost/busybox:latest`, `docker://${reg.host}/lib/busybox:1`], { encoding: 'utf8' });
      expect(c.stderr).toBe('');
      const r = py(`
import docker, sys
c = docker.DockerClient(base_url='unix://' + sys.argv[1])
img = c.images.pull('${reg.host}/lib/busybox', tag='1')
print(sorted(img.tags))
print(img.tag('${reg.host}/lib/again', tag='x'))
print(sorted(t for i in c.images.list() for t in i.tags))
`);
      expect(r.stderr).toBe('');
      // the same image as localhost/busybox: one ID, every name
      expect(r.stdout).toBe(`['${reg.host}/lib/busybox:1', 'localhost/busybox:latest']\nTrue\n['${reg.host}/lib/again:x', '${reg.host}/lib/busybox:1', 'localhost/busybox:latest']\n`);
      const stream = await call('POST', `/images/create?fromImage=${encodeURIComponent(`${reg.host}/lib/busybox`)}&tag=1`);
      const lines = stream.text.trim().split('\r\n').map((l) => JSON.parse(l) as { status?: string; error?: string });
      expect(lines.at(-1)).toEqual({ status: `Status: Downloaded newer image for ${reg.host}/lib/busybox:1` });
      const miss = docker(['pull', `${reg.host}/lib/nosuch:1`]);
      expect(miss.status).toBe(1);
      expect(miss.stderr).toMatch(/nosuch:1 not found/);
      expect(docker(['rmi', `${reg.host}/lib/again:x`]).stdout).toBe(`Untagged: ${reg.host}/lib/again:x\n`);
      expect(docker(['rmi', `${reg.host}/lib/busybox:1`]).status).toBe(0);
      expect(docker(['images', '--format', '{{.Repository}}:{{.Tag}}']).stdout).toBe('localhost/busybox:latest\n');
    } finally {
      await reg.stop();
    }
  }, 120_000);

  it('daemonless: a SIGKILLed service leaves its container running; run-tool ps shows it; a new service lists and stops it', async () => {
    const sock2 = join(dir, 'api2.sock');
    const first = await startService(sock2, ['-t', '0']);
    const c = await call('POST', '/containers/create?name=survivor', JSON.stringify({ Image: 'localhost/busybox', Cmd: ['sleep', '300'], HostConfig: { NetworkMode: 'none' } }), { socket: sock2 });
    expect(c.status).toBe(201);
    expect((await call('POST', '/containers/survivor/start', undefined, { socket: sock2 })).status).toBe(204);
    await kill(first, 'SIGKILL');
    expect(rt(bundle, root, ['ps', '--format', '{{.Names}} {{.Status}}']).stdout).toMatch(/^survivor Up/);
    const second = await startService(sock2, ['-t', '0']);
    const list = JSON.parse((await call('GET', '/containers/json', undefined, { socket: sock2 })).text) as { Names: string[]; State: string }[];
    expect(list.map((x) => `${x.Names[0]} ${x.State}`)).toEqual(['/survivor running']);
    expect((await call('POST', '/containers/survivor/start', undefined, { socket: sock2 })).status).toBe(304);
    expect((await call('POST', '/containers/survivor/stop?t=1', undefined, { socket: sock2 })).status).toBe(204);
    expect((await call('POST', '/containers/survivor/stop?t=1', undefined, { socket: sock2 })).status).toBe(304);
    expect(rt(bundle, root, ['ps', '-a', '--format', '{{.Names}} {{.State}}']).stdout).toMatch(/^survivor exited/);
    expect((await call('DELETE', '/containers/survivor', undefined, { socket: sock2 })).status).toBe(204);
    await kill(second);
  }, 60_000);

  it('-t SECONDS: exits when idle and removes its socket; an open connection keeps it up', async () => {
    const s = join(dir, 'idle.sock');
    const p = await startService(s, ['-t', '1']);
    const t0 = Date.now();
    // a connection held open for 1.5 s (a follow of nothing: wait on a created container)
    await call('POST', '/containers/create?name=idle', JSON.stringify({ Image: 'localhost/busybox', Cmd: ['true'], HostConfig: { NetworkMode: 'none' } }), { socket: s });
    const held = call('POST', '/containers/idle/wait?condition=removed', undefined, { socket: s });
    await new Promise((ok) => setTimeout(ok, 1500));
    expect(p.exitCode).toBe(null);
    rt(bundle, root, ['rm', 'idle']);
    expect(JSON.parse((await held).text).StatusCode).toBe(0);
    await new Promise<void>((ok) => p.once('exit', () => ok()));
    expect(Date.now() - t0).toBeGreaterThan(1500);
    expect(p.exitCode).toBe(0);
    expect(existsSync(s)).toBe(false);
  }, 30_000);

  it('socket activation: serves the socket passed as LISTEN_FDS', async () => {
    const s = join(dir, 'activated.sock');
    const launcher = join(dir, 'launch.py');
    await writeFile(launcher, [
      'import os, socket, sys',
      's = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(8)',
      'os.dup2(s.fileno(), 3); os.set_inheritable(3, True)',
      "os.environ['LISTEN_FDS'] = '1'; os.environ['LISTEN_PID'] = str(os.getpid())",
      'os.execv(sys.argv[2], sys.argv[2:])',
    ].join('\n'));
    const p = spawn('python3', [launcher, s, process.execPath, bundle, '--root', root, 'system', 'service', '-t', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    services.push(p);
    await waitForApi(s, p);
    expect(await call('GET', '/_ping', undefined, { socket: s })).toMatchObject({ status: 200, text: 'OK' });
    await kill(p);
  });

  it('tcp:// only when given, with a warning', async () => {
    const port = 20000 + (process.pid % 20000);
    const p = spawn(process.execPath, [bundle, '--root', root, 'system', 'service', '-t', '0', `tcp://127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    services.push(p);
    let err = '';
    p.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    let status = 0;
    for (let i = 0; i < 100 && status !== 200; i++) {
      status = await new Promise<number>((ok) => request({ host: '127.0.0.1', port, path: '/_ping' }, (res) => { res.resume(); ok(res.statusCode ?? 0); }).on('error', () => ok(0)).end());
      if (status !== 200) await new Promise((ok) => setTimeout(ok, 50));
    }
    expect(status).toBe(200);
    expect(err).toMatch(/^WARNING: the API listens on tcp:\/\/127.0.0.1:\d+ without authentication: anyone who reaches it controls this machine\n/);
    await kill(p);
  });
});
