// The Docker API endpoints added after the first service landed — /build, push, get/load, stats, rename, the
// prunes, network connect/disconnect — driven by real clients (the docker CLI, python3-docker), plus run-tool's
// `rename` and `network connect|disconnect`. The service listens on a socket in this file's temp dir and is killed
// by PID at the end.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiCall, makeApiWorld, startApiService, type ApiService, type ApiWorld } from '../../helpers/api-service.ts';
import { hasBusybox, makeBusyboxImage } from '../../helpers/busybox.ts';
import { REGISTRY_BIN, startRegistry } from '../../helpers/registry.ts';
import { isRoot } from '../../helpers/tmp.ts';
import { hasConmon, rt } from './core-helpers.ts';

const DOCKER = existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';
const hasDocker = spawnSync(DOCKER, ['--version']).status === 0;
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const hasPyDocker = spawnSync(PYTHON, ['-c', 'import docker']).status === 0;
const hasCompose = spawnSync('docker-compose', ['version']).status === 0;
const hasSocat = spawnSync('sh', ['-c', 'command -v socat']).status === 0;
const hasScript = spawnSync('sh', ['-c', 'command -v script']).status === 0;
const hasNetavark = existsSync('/usr/lib/podman/netavark') || spawnSync('sh', ['-c', 'command -v netavark']).status === 0;

let bundle = '';
let root = '';
let dir = '';
let sock = '';
let world: ApiWorld | undefined;
let service: ApiService | undefined;

/** One HTTP request over the file's socket: status and body text. */
const call = (method: string, path: string, body?: string | Buffer) => apiCall(sock, method, path, body);

// SIGKILL on timeout: an attached docker CLI proxies SIGTERM to the container instead of exiting
const docker = (args: string[], timeout = 120_000) =>
  spawnSync(DOCKER, ['-H', `unix://${sock}`, ...args], { encoding: 'utf8', timeout, killSignal: 'SIGKILL', env: { ...process.env, DOCKER_CONFIG: join(dir, 'docker-config'), DOCKER_BUILDKIT: '0' } });
const py = (script: string, ...args: string[]) => spawnSync(PYTHON, ['-c', script, sock, ...args], { encoding: 'utf8', timeout: 120_000 });

describe.skipIf(!isRoot || !hasBusybox || !hasConmon)('run-tool system service: build, push, save/load, stats, rename, prunes, network connect', () => {
  beforeAll(async () => {
    world = await makeApiWorld('skiff-api-gaps-');
    ({ bundle, dir, root, sock } = world);
    await mkdir(join(dir, 'slow'), { recursive: true });
    await writeFile(join(dir, 'slow', 'Dockerfile'), 'FROM localhost/busybox\nRUN sleep 60\n');
    service = await startApiService({ bundle, root, sock });
  }, 120_000);
  afterAll(async () => {
    await service?.stop();
    if (root) {
      rt(bundle, root, ['rm', '-a', '-f']);
      for (const n of ['gapsnet1', 'gapsnet2']) rt(bundle, root, ['network', 'rm', '-f', n]);
    }
    await world?.close();
  });

  it.skipIf(!hasDocker)('docker build of a context (RUN, a build arg, a label), the image runs; a bad Dockerfile streams an error and exits 1', async () => {
    const ctx = join(dir, 'ctx');
    await mkdir(ctx, { recursive: true });
    await writeFile(join(ctx, 'Dockerfile'), 'FROM localhost/busybox\nARG WHO=nobody\nCOPY hello.txt /hello.txt\nRUN echo "built for $WHO" >> /hello.txt\nCMD ["cat", "/hello.txt"]\n');
    await writeFile(join(ctx, 'hello.txt'), 'hello from the context\n');
    const b = docker(['build', '--network', 'none', '--build-arg', 'WHO=docker', '--label', 'made=gaps', '-t', 'gaps/built:1', ctx]);
    expect(b.stderr).not.toMatch(/Error/);
    expect(b.stdout).toMatch(/STEP 4\/5: RUN echo[^]*Successfully built [0-9a-f]{12}\nSuccessfully tagged gaps\/built:1\n$/);
    expect(b.status).toBe(0);
    const run = docker(['run', '--rm', '--network', 'none', 'gaps/built:1']);
    expect(run.stdout).toBe('hello from the context\nbuilt for docker\n');
    expect(docker(['inspect', '--format', '{{index .Config.Labels "made"}}', 'gaps/built:1']).stdout).toBe('gaps\n');
    const q = docker(['build', '-q', '--network', 'none', ctx]);
    expect(q.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
    await writeFile(join(ctx, 'Bad.Dockerfile'), 'FROM localhost/busybox\nRUN exit 7\n');
    const bad = docker(['build', '--network', 'none', '-f', join(ctx, 'Bad.Dockerfile'), ctx]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/exit (status|code):? 7|exited? .*7/i);
  }, 180_000);

  it.skipIf(!hasCompose)("docker-compose: build: of a local Dockerfile with args, up -d runs the built image, down --rmi local removes it", async () => {
    const proj = join(dir, 'cproj');
    await mkdir(join(proj, 'app'), { recursive: true });
    await writeFile(join(proj, 'app', 'Dockerfile'), 'FROM localhost/busybox\nARG MSG=none\nRUN echo "msg=$MSG" > /msg\nCMD ["sh", "-c", "cat /msg; exec sleep 300"]\n');
    await writeFile(join(proj, 'docker-compose.yml'), 'version: "3.8"\nservices:\n  app:\n    build: { context: ./app, args: { MSG: from-compose }, network: none }\n    network_mode: none\n    stop_grace_period: 1s\n');
    const compose = (args: string[]) => spawnSync('docker-compose', ['-p', 'gapsproj', '--ansi', 'never', ...args], { cwd: proj, encoding: 'utf8', timeout: 120_000, env: { ...process.env, DOCKER_HOST: `unix://${sock}` } });
    const b = compose(['build']);
    expect(b.status, b.stderr).toBe(0);
    expect(b.stdout + b.stderr).toMatch(/Successfully tagged gapsproj_app:latest/);
    expect(compose(['up', '-d']).status).toBe(0);
    let logs = '';
    for (let i = 0; i < 50 && !/msg=/.test(logs); i++) {
      logs = compose(['logs', '--no-color', 'app']).stdout;
      if (!/msg=/.test(logs)) await new Promise((ok) => setTimeout(ok, 100));
    }
    expect(logs).toMatch(/app_1 +\| msg=from-compose\n/);
    const down = compose(['down', '--rmi', 'local', '-t', '1']);
    expect(down.status, down.stderr).toBe(0);
    expect(docker(['images', '--format', '{{.Repository}}']).stdout).not.toMatch(/gapsproj_app/);
  }, 180_000);

  it.skipIf(!hasCompose || !hasNetavark)('docker-compose: services reach each other by service name and alias (EndpointsConfig aliases); a second network joins through connect', async () => {
    const proj = join(dir, 'dnsproj');
    await mkdir(join(proj, 'site'), { recursive: true });
    await writeFile(join(proj, 'site', 'index.html'), 'hi-dns\n');
    await writeFile(join(proj, 'docker-compose.yml'), [
      'version: "3.8"',
      'services:',
      '  web:',
      '    image: localhost/busybox',
      '    command: ["httpd", "-f", "-p", "8080", "-h", "/site"]',
      '    volumes: ["./site:/site:ro"]',
      '    stop_grace_period: 1s',
      '    networks: { default: { aliases: [www] } }',
      '  client:',
      '    image: localhost/busybox',
      '    command: ["sleep", "300"]',
      '    stop_grace_period: 1s',
      '    networks: [default, other]',
      'networks:',
      '  other: {}',
      '',
    ].join('\n'));
    const compose = (args: string[]) => spawnSync('docker-compose', ['-p', 'gapsdns', '--ansi', 'never', ...args], { cwd: proj, encoding: 'utf8', timeout: 120_000, env: { ...process.env, DOCKER_HOST: `unix://${sock}` } });
    try {
      const up = compose(['up', '-d']);
      expect(up.status, up.stderr).toBe(0);
      const get = (host: string) => docker(['exec', 'gapsdns_client_1', 'sh', '-c', `printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${host} 8080 | tail -1`]).stdout;
      let body = '';
      for (let i = 0; i < 30 && body !== 'hi-dns\n'; i++) {
        body = get('web');
        if (body !== 'hi-dns\n') await new Promise((ok) => setTimeout(ok, 100));
      }
      expect(body).toBe('hi-dns\n');
      expect(get('www')).toBe('hi-dns\n');
      const nets = JSON.parse(docker(['inspect', '--format', '{{json .NetworkSettings.Networks}}', 'gapsdns_client_1']).stdout) as Record<string, unknown>;
      expect(Object.keys(nets).sort()).toEqual(['gapsdns_default', 'gapsdns_other']);
      expect(docker(['exec', 'gapsdns_client_1', 'ip', '-4', '-o', 'addr']).stdout.match(/ eth\d /g)?.length).toBe(2);
    } finally {
      const down = compose(['down', '-t', '1']);
      expect(down.status, down.stderr).toBe(0);
    }
  }, 180_000);

  it('POST /build refuses what it cannot build before starting: a Dockerfile outside the context, a remote context, a non-tar body', async () => {
    const out = await call('POST', '/build?dockerfile=../../etc/passwd', Buffer.alloc(1024));
    expect(out.status).toBe(400);
    expect(JSON.parse(out.text).message).toMatch(/must be a path inside the build context/);
    const remote = await call('POST', '/build?remote=https%3A%2F%2F127.0.0.1%2Fx.git', Buffer.alloc(1024));
    expect(remote.status).toBe(400);
    expect(JSON.parse(remote.text).message).toMatch(/remote build contexts are not supported/);
    const junk = await call('POST', '/build', Buffer.from('this is not a tar archive, not even close to one'.repeat(20)));
    expect(junk.status).toBe(400);
    expect(JSON.parse(junk.text).message).toMatch(/^invalid build context: /);
    expect((await call('GET', '/_ping')).status).toBe(200);
  });

  it('a client going away mid-build kills the build and removes its context', async () => {
    const tar = spawnSync('tar', ['-c', '-f', '-', '-C', join(dir, 'slow'), '.'], { encoding: 'buffer' });
    expect(readdirSync(join(root, 'tmp')).filter((n) => n.startsWith('api-build-'))).toEqual([]);
    const body = await new Promise<string>((ok, bad) => {
      let seen = '';
      const req = request({ socketPath: sock, agent: false, method: 'POST', path: '/build?networkmode=none', headers: { 'Content-Type': 'application/x-tar' } }, (res) => {
        res.on('data', (c: Buffer) => {
          seen += c.toString();
          // the RUN has started: hang up
          if (/STEP 2\/2: RUN sleep 60/.test(seen)) req.destroy();
        });
        res.on('close', () => ok(seen));
      });
      req.on('error', () => ok(seen));
      req.on('timeout', () => bad(new Error('no progress')));
      req.end(tar.stdout);
    });
    expect(body).toMatch(/STEP 2\/2: RUN sleep 60/);
    const builds = () => spawnSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.includes(join(root, 'tmp', 'api-build-')));
    for (let i = 0; i < 100 && builds().length > 0; i++) await new Promise((ok) => setTimeout(ok, 100));
    expect(builds()).toEqual([]);
    expect(readdirSync(join(root, 'tmp')).filter((n) => n.startsWith('api-build-'))).toEqual([]);
    expect((await call('GET', '/_ping')).status).toBe(200);
  }, 60_000);

  it.skipIf(!hasPyDocker)('python3-docker: api.build of a tar context; images.get().save() and images.load() round-trip; a bad archive is a 400', () => {
    const r = py(`
import docker, io, sys, tarfile, json
c = docker.DockerClient(base_url='unix://' + sys.argv[1])
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode='w') as t:
    df = b'FROM localhost/busybox\\nCMD ["echo", "from-py"]\\n'
    ti = tarfile.TarInfo('Dockerfile'); ti.size = len(df); t.addfile(ti, io.BytesIO(df))
buf.seek(0)
img, logs = c.images.build(fileobj=buf, custom_context=True, tag='gaps/py:1', network_mode='none')
print(img.tags, any('Successfully built' in l.get('stream', '') for l in logs))
data = b''.join(c.images.get('gaps/py:1').save(named=True))
c.images.remove('gaps/py:1')
loaded = c.images.load(data)
print([i.tags for i in loaded])
print(c.containers.run('gaps/py:1', network_mode='none', remove=True))
try:
    c.images.load(b'not an archive')
except docker.errors.APIError as e:
    print(e.status_code)
try:
    c.images.get('gaps/nosuch:1').save()
except docker.errors.ImageNotFound:
    print('ImageNotFound')
`);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe("['localhost/gaps/py:1'] True\n[['localhost/gaps/py:1']]\nb'from-py\\n'\n400\nImageNotFound\n");
  }, 120_000);

  it.skipIf(!hasDocker)('docker save | docker load through the API keep the name; save of a missing image fails', () => {
    const tar = join(dir, 'saved.tar');
    const s = docker(['save', '-o', tar, 'localhost/busybox']);
    expect(s.stderr).toBe('');
    const list = spawnSync('tar', ['tf', tar], { encoding: 'utf8' }).stdout;
    expect(list).toMatch(/^manifest\.json$/m);
    expect(docker(['tag', 'localhost/busybox', 'gaps/copy:1']).status).toBe(0);
    expect(docker(['rmi', 'gaps/copy:1']).status).toBe(0);
    const l = docker(['load', '-i', tar]);
    expect(l.stdout).toBe('Loaded image: localhost/busybox:latest\n');
    const miss = docker(['save', '-o', join(dir, 'no.tar'), 'gaps/nosuch:1']);
    expect(miss.status).toBe(1);
    expect(miss.stderr).toMatch(/No such image: gaps\/nosuch:1/);
    expect(existsSync(join(dir, 'no.tar'))).toBe(false);
  });

  it("POST /images/load: an archive past --max-load-size is a 413 in Docker's shape (declared or streamed); a cut upload stores nothing", async () => {
    const small = await startApiService({ bundle, root, sock: join(dir, 'small.sock'), extra: ['-t', '0', '--max-load-size', '64k'] });
    const spools = () => (existsSync(join(root, 'tmp')) ? readdirSync(join(root, 'tmp')).filter((n) => n.startsWith('api-archive-')) : []);
    const tags = async () => (JSON.parse((await apiCall(small.sock, 'GET', '/images/json')).text) as { RepoTags: string[] | null }[]).flatMap((i) => i.RepoTags ?? []);
    try {
      const declared = await apiCall(small.sock, 'POST', '/images/load', Buffer.alloc(128 * 1024), { 'Content-Type': 'application/x-tar' });
      expect(declared.status).toBe(413);
      expect(JSON.parse(declared.text)).toEqual({ message: 'request body of 131072 bytes is larger than the 65536 bytes this service accepts: send a smaller archive or start the service with a larger --max-load-size' });
      // chunked: no length up front, so the limit is met while reading
      const streamed = await new Promise<{ status: number; text: string }>((ok, bad) => {
        const req = request({ socketPath: small.sock, agent: false, method: 'POST', path: '/images/load', headers: { 'Content-Type': 'application/x-tar', 'Transfer-Encoding': 'chunked' } }, (res) => {
          let t = '';
          res.on('data', (c: Buffer) => (t += c.toString())).on('end', () => ok({ status: res.statusCode ?? 0, text: t }));
        });
        req.on('error', bad);
        for (let i = 0; i < 8; i++) req.write(Buffer.alloc(16 * 1024));
        req.end();
      });
      expect(streamed.status).toBe(413);
      expect(JSON.parse(streamed.text).message).toMatch(/^request body of \d+ bytes is larger than the 65536 bytes this service accepts/);
      // a real archive cut half-way: the client goes away, nothing is loaded, the spool is gone
      const other = join(dir, 'cut-store');
      await makeBusyboxImage(other, dir, 'localhost/gaps/cut:1');
      const archive = join(dir, 'cut.tar');
      expect(rt(bundle, other, ['save', '-o', archive, 'localhost/gaps/cut:1']).status).toBe(0);
      const body = readFileSync(archive);
      await new Promise<void>((ok) => {
        const c = connect(service!.sock, () => {
          c.write(`POST /images/load HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-tar\r\nContent-Length: ${body.length}\r\n\r\n`);
          c.write(body.subarray(0, body.length >> 1), () => setTimeout(() => (c.destroy(), ok()), 200));
        });
      });
      for (let i = 0; i < 50 && spools().length > 0; i++) await new Promise((ok) => setTimeout(ok, 100));
      expect(spools()).toEqual([]);
      expect(await tags()).not.toContain('localhost/gaps/cut:1');
      // the same archive whole loads (so the cut one was a valid archive cut short)
      const whole = await apiCall(service!.sock, 'POST', '/images/load', body, { 'Content-Type': 'application/x-tar' });
      expect(whole.status, whole.text).toBe(200);
      expect(await tags()).toContain('localhost/gaps/cut:1');
    } finally {
      await small.stop();
    }
  }, 120_000);

  it.skipIf(!existsSync(REGISTRY_BIN) || !hasPyDocker || !hasDocker)('push to a loopback registry with X-Registry-Auth (python3-docker and docker push); bad credentials are an error line', async () => {
    const reg = await startRegistry({ auth: 'htpasswd' });
    try {
      const r = py(`
import docker, sys, json
c = docker.DockerClient(base_url='unix://' + sys.argv[1])
c.images.get('localhost/busybox').tag('${reg.host}/gaps/bb', tag='1')
lines = [json.loads(l) for l in c.images.push('${reg.host}/gaps/bb', tag='1', auth_config={'username': sys.argv[2], 'password': sys.argv[3]}, stream=True)]
print([l for l in lines if 'aux' in l][0]['aux']['Tag'], any('error' in l for l in lines))
bad = [json.loads(l) for l in c.images.push('${reg.host}/gaps/bb', tag='1', auth_config={'username': sys.argv[2], 'password': 'wrong'}, stream=True)]
print('error' in bad[-1])
`, reg.user, reg.password);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('1 False\nTrue\n');
      // what went up is what a client pulls back
      expect(docker(['rmi', `${reg.host}/gaps/bb:1`]).status).toBe(0);
      const login = (password: string) => spawnSync(DOCKER, ['-H', `unix://${sock}`, 'login', '-u', reg.user, '--password-stdin', reg.host], { input: password, encoding: 'utf8', env: { ...process.env, DOCKER_CONFIG: join(dir, 'docker-config') } });
      const wrong = login('wrong');
      expect(wrong.status).toBe(1);
      expect(wrong.stderr).toMatch(/login attempt to 127\.0\.0\.1:\d+ failed with status: 401 Unauthorized/);
      const good = login(reg.password);
      expect(good.status, good.stderr).toBe(0);
      expect(good.stdout).toMatch(/Login Succeeded/);
      expect(docker(['pull', `${reg.host}/gaps/bb:1`]).status).toBe(0);
      expect(docker(['tag', 'localhost/busybox', `${reg.host}/gaps/cli:2`]).status).toBe(0);
      const p = docker(['push', `${reg.host}/gaps/cli:2`]);
      expect(p.stderr).toBe('');
      expect(p.stdout).toMatch(/^The push refers to repository \[127\.0\.0\.1:\d+\/gaps\/cli\]\n[^]*2: digest: sha256:[0-9a-f]{64} size: \d+\n$/);
      const miss = docker(['push', `${reg.host}/gaps/nosuch:1`]);
      expect(miss.status).toBe(1);
      expect(miss.stderr).toMatch(/An image does not exist locally with the tag: 127\.0\.0\.1:\d+\/gaps\/nosuch:1/);
    } finally {
      await reg.stop();
    }
  }, 120_000);

  it.skipIf(!hasPyDocker)("stats: one-shot and streamed in Docker's JSON (python3-docker); a missing container is a 404", () => {
    const r = py(`
import docker, sys
c = docker.DockerClient(base_url='unix://' + sys.argv[1])
ct = c.containers.run('localhost/busybox', ['sh', '-c', 'while :; do :; done'], detach=True, network_mode='none', name='gaps-stats')
s = ct.stats(stream=False)
print(sorted(s.keys()))
print(s['name'], s['id'] == ct.id, s['pids_stats']['current'] >= 1, s['memory_stats']['usage'] > 0, s['precpu_stats']['system_cpu_usage'] > 0)
cpu = s['cpu_stats']['cpu_usage']['total_usage'] - s['precpu_stats']['cpu_usage']['total_usage']
sysd = s['cpu_stats']['system_cpu_usage'] - s['precpu_stats']['system_cpu_usage']
print(cpu > 0 and sysd > 0 and 0 < cpu / sysd * s['cpu_stats']['online_cpus'] * 100 <= 100 * s['cpu_stats']['online_cpus'])
it = ct.stats(stream=True, decode=True)
a = next(it); b = next(it)
print(b['precpu_stats']['cpu_usage']['total_usage'] == a['cpu_stats']['cpu_usage']['total_usage'])
ct.remove(force=True)
try:
    c.api.stats('gaps-nosuch', stream=False)
except docker.errors.NotFound as e:
    print(e.status_code)
`);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe("['blkio_stats', 'cpu_stats', 'id', 'memory_stats', 'name', 'networks', 'num_procs', 'pids_stats', 'precpu_stats', 'preread', 'read', 'storage_stats']\n/gaps-stats True True True True\nTrue\nTrue\n404\n");
  }, 60_000);

  it.skipIf(!hasDocker)('rename: docker rename and run-tool rename; a taken name is 409, a missing container 404; the old name is free again', async () => {
    expect(docker(['run', '-d', '--name', 'gaps-a', '--network', 'none', 'localhost/busybox', 'sleep', '300']).status).toBe(0);
    expect(docker(['create', '--name', 'gaps-b', '--network', 'none', 'localhost/busybox', 'true']).status).toBe(0);
    const r = docker(['rename', 'gaps-a', 'gaps-c']);
    expect([r.status, r.stdout, r.stderr]).toEqual([0, '', '']);
    expect(docker(['ps', '--format', '{{.Names}}']).stdout).toBe('gaps-c\n');
    expect(docker(['inspect', '--format', '{{.Name}}', 'gaps-c']).stdout).toBe('/gaps-c\n');
    const taken = await call('POST', '/containers/gaps-c/rename?name=gaps-b');
    expect(taken.status).toBe(409);
    expect(JSON.parse(taken.text).message).toMatch(/the container name "gaps-b" is already in use/);
    expect((await call('POST', '/containers/gaps-nosuch/rename?name=x')).status).toBe(404);
    expect(JSON.parse((await call('POST', '/containers/gaps-nosuch/rename?name=x')).text).message).toBe('No such container: gaps-nosuch');
    expect((await call('POST', '/containers/gaps-c/rename')).status).toBe(400);
    // the CLI: podman's `rename`, silent; the freed name can be taken by a new container
    const cli = rt(bundle, root, ['rename', 'gaps-b', 'gaps-a']);
    expect([cli.status, cli.stdout, cli.stderr]).toEqual([0, '', '']);
    // podman: its own name again is silently nothing; Docker's API: a 400
    const same = rt(bundle, root, ['rename', 'gaps-a', 'gaps-a']);
    expect([same.status, same.stderr]).toEqual([0, '']);
    expect((await call('POST', '/containers/gaps-a/rename?name=gaps-a')).status).toBe(400);
    const missing = rt(bundle, root, ['rename', 'gaps-nosuch', 'x']);
    expect([missing.status, missing.stderr]).toEqual([125, 'Error: no container with name or ID "gaps-nosuch" found: no such container\n']);
    const bad = rt(bundle, root, ['rename', 'gaps-a', 'bad/name']);
    expect(bad.status).toBe(125);
    expect(bad.stderr).toMatch(/^Error: .*names must match \[a-zA-Z0-9\]\[a-zA-Z0-9_.-\]\*/);
    expect(docker(['create', '--name', 'gaps-b', '--network', 'none', 'localhost/busybox', 'true']).status).toBe(0);
    expect(rt(bundle, root, ['ps', '-a', '--format', '{{.Names}}']).stdout.split('\n').filter(Boolean).sort()).toEqual(['gaps-a', 'gaps-b', 'gaps-c']);
    expect(docker(['rm', '-f', 'gaps-a', 'gaps-b', 'gaps-c']).status).toBe(0);
  }, 60_000);

  it('prunes: containers (label filter), images (dangling=false), networks (label), volumes — Docker\'s fields; a bad filter is a 400', async () => {
    const mk = (name: string, labels: Record<string, string>) => call('POST', `/containers/create?name=${name}`, JSON.stringify({ Image: 'localhost/busybox', Cmd: ['true'], Labels: labels, HostConfig: { NetworkMode: 'none' } }));
    expect((await mk('gaps-p1', { keep: 'no' })).status).toBe(201);
    expect((await mk('gaps-p2', { keep: 'yes' })).status).toBe(201);
    const cp = await call('POST', `/containers/prune?filters=${encodeURIComponent(JSON.stringify({ label: ['keep=no'] }))}`);
    expect(cp.status).toBe(200);
    const cpj = JSON.parse(cp.text) as { ContainersDeleted: string[]; SpaceReclaimed: number };
    expect(Object.keys(cpj).sort()).toEqual(['ContainersDeleted', 'SpaceReclaimed']);
    expect(cpj.ContainersDeleted).toHaveLength(1);
    const negated = JSON.parse((await call('POST', `/containers/prune?filters=${encodeURIComponent(JSON.stringify({ 'label!': { 'keep=yes': true } }))}`)).text);
    expect(negated.ContainersDeleted).toBeNull();
    expect(JSON.parse((await call('POST', '/containers/prune')).text).ContainersDeleted).toHaveLength(1);
    // images: a second name for busybox is unused by any container; dangling=false removes every unused image
    expect((await call('POST', '/images/localhost/busybox/tag?repo=gaps/unused&tag=1')).status).toBe(201);
    // the default prune takes dangling images only (the earlier tests' untagged builds); a second finds none
    const dangling = JSON.parse((await call('POST', '/images/prune')).text) as { ImagesDeleted: { Deleted?: string }[] | null };
    expect(Object.keys(dangling).sort()).toEqual(['ImagesDeleted', 'SpaceReclaimed']);
    expect((dangling.ImagesDeleted ?? []).every((d) => Object.keys(d).join() === 'Deleted')).toBe(true);
    expect(JSON.parse((await call('POST', '/images/prune')).text)).toEqual({ ImagesDeleted: null, SpaceReclaimed: 0 });
    const keepC = await call('POST', '/containers/create?name=gaps-user', JSON.stringify({ Image: 'localhost/busybox', Cmd: ['true'], HostConfig: { NetworkMode: 'none' } }));
    expect(keepC.status).toBe(201);
    const unusedBuilt = JSON.parse((await call('GET', '/images/json')).text) as { RepoTags: string[] | null; Id: string }[];
    const ip = JSON.parse((await call('POST', `/images/prune?filters=${encodeURIComponent(JSON.stringify({ dangling: ['false'] }))}`)).text) as { ImagesDeleted: { Untagged?: string; Deleted?: string }[] | null };
    // busybox (and its second name) stay: a container uses the image
    expect(JSON.parse((await call('GET', '/images/localhost/busybox/json')).text).RepoTags).toContain('localhost/gaps/unused:1');
    expect((ip.ImagesDeleted ?? []).every((d) => !JSON.stringify(d).includes('busybox'))).toBe(true);
    expect(unusedBuilt.length).toBeGreaterThan(0);
    expect((await call('DELETE', '/containers/gaps-user')).status).toBe(204);
    expect((await call('DELETE', '/images/gaps/unused:1')).status).toBe(200);
    // networks and volumes
    for (const [n, l] of [['gaps-prune-a', 'a'], ['gaps-prune-b', 'b']] as const) expect((await call('POST', '/networks/create', JSON.stringify({ Name: n, Labels: { set: l } }))).status).toBe(201);
    const np = JSON.parse((await call('POST', `/networks/prune?filters=${encodeURIComponent(JSON.stringify({ label: ['set=a'] }))}`)).text);
    expect(np).toEqual({ NetworksDeleted: ['gaps-prune-a'] });
    expect(JSON.parse((await call('POST', '/networks/prune')).text)).toEqual({ NetworksDeleted: ['gaps-prune-b'] });
    expect((await call('POST', '/volumes/create', JSON.stringify({ Name: 'gaps-v1', Labels: { x: '1' } }))).status).toBe(201);
    expect((await call('POST', '/volumes/create', JSON.stringify({ Name: 'gaps-v2' }))).status).toBe(201);
    expect(JSON.parse((await call('POST', `/volumes/prune?filters=${encodeURIComponent(JSON.stringify({ label: ['x=1'] }))}`)).text)).toEqual({ VolumesDeleted: ['gaps-v1'], SpaceReclaimed: 0 });
    expect(JSON.parse((await call('POST', '/volumes/prune')).text)).toEqual({ VolumesDeleted: ['gaps-v2'], SpaceReclaimed: 0 });
    const bad = await call('POST', `/containers/prune?filters=${encodeURIComponent(JSON.stringify({ colour: ['red'] }))}`);
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.text).message).toMatch(/invalid prune filter "colour=red"/);
    const badUntil = await call('POST', `/images/prune?filters=${encodeURIComponent(JSON.stringify({ until: ['yesterday-ish'] }))}`);
    expect(badUntil.status).toBe(400);
  }, 60_000);

  it.skipIf(!hasNetavark || !hasDocker)('network connect/disconnect: a running container gets and loses the interface and its /etc/hosts line live (docker CLI and run-tool), with --alias and --ip, its last network too (as podman 4.3); errors are clear', async () => {
    expect(rt(bundle, root, ['network', 'create', '--subnet', '10.231.71.0/24', 'gapsnet1']).status).toBe(0);
    expect(rt(bundle, root, ['network', 'create', '--subnet', '10.231.72.0/24', 'gapsnet2']).status).toBe(0);
    expect(docker(['run', '-d', '--name', 'gaps-net', '--network', 'gapsnet1', 'localhost/busybox', 'sleep', '300']).status).toBe(0);
    const addrs = () => docker(['exec', 'gaps-net', 'ip', '-4', '-o', 'addr']).stdout.split('\n').filter((l) => / eth\d/.test(l)).map((l) => l.split(/\s+/).slice(1, 4).join(' ')).join('; ');
    expect(addrs()).toMatch(/^eth0 inet 10\.231\.71\.\d+\/24$/);
    // podman 4.3: the connected container's own /etc/hosts gains a line for the new address, and loses it on
    // disconnect; another container on that network is not touched (it resolves the name through DNS)
    expect(docker(['run', '-d', '--name', 'gaps-peer', '--network', 'gapsnet2', 'localhost/busybox', 'sleep', '300']).status).toBe(0);
    const hosts = (name: string) => docker(['exec', name, 'cat', '/etc/hosts']).stdout;
    const peerHosts = hosts('gaps-peer');
    const first = hosts('gaps-net');
    const firstIp = /^(10\.231\.71\.\d+)\t\S+ gaps-net$/m.exec(first)?.[1];
    expect(firstIp, first).toBeDefined();
    const c = docker(['network', 'connect', '--alias', 'extra', '--ip', '10.231.72.9', 'gapsnet2', 'gaps-net']);
    expect([c.status, c.stderr]).toEqual([0, '']);
    expect(addrs()).toMatch(/^eth0 inet 10\.231\.71\.\d+\/24; eth1 inet 10\.231\.72\.9\/24$/);
    expect(hosts('gaps-net')).toBe(first.replace(/\n$/, `\n10.231.72.9\t${/^\S+\t(\S+) gaps-net$/m.exec(first)![1]} gaps-net\n`));
    expect(hosts('gaps-peer')).toBe(peerHosts);
    const nets = JSON.parse(docker(['inspect', '--format', '{{json .NetworkSettings.Networks}}', 'gaps-net']).stdout) as Record<string, { IPAddress: string; Aliases: string[] }>;
    expect(Object.keys(nets).sort()).toEqual(['gapsnet1', 'gapsnet2']);
    expect(nets.gapsnet2!.IPAddress).toBe('10.231.72.9');
    expect(nets.gapsnet2!.Aliases[0]).toBe('extra');
    const again = await call('POST', '/networks/gapsnet2/connect', JSON.stringify({ Container: 'gaps-net' }));
    expect(again.status).toBe(409);
    expect((await call('POST', '/networks/gaps-nonet/connect', JSON.stringify({ Container: 'gaps-net' }))).status).toBe(404);
    expect((await call('POST', '/networks/gapsnet2/connect', JSON.stringify({ Container: 'gaps-nosuch' }))).status).toBe(404);
    expect((await call('POST', '/networks/gapsnet2/connect', JSON.stringify({ Container: 'gaps-net', Bogus: 1 }))).status).toBe(400);
    // run-tool's CLI: disconnect the first network live, connect it again
    const d = rt(bundle, root, ['network', 'disconnect', 'gapsnet1', 'gaps-net']);
    expect([d.status, d.stdout, d.stderr]).toEqual([0, '', '']);
    expect(addrs()).toBe('eth1 inet 10.231.72.9/24');
    expect(hosts('gaps-net')).not.toContain(`${firstIp}\t`);
    expect(hosts('gaps-net')).toMatch(/^10\.231\.72\.9\t\S+ gaps-net$/m);
    // the last network goes too (podman 4.3 allows it, through the API as on the CLI): only lo is left, and a restart
    // gives the container its own namespace with no network in it; a second disconnect is an error
    const last = await call('POST', '/networks/gapsnet2/disconnect', JSON.stringify({ Container: 'gaps-net' }));
    expect([last.status, last.text]).toEqual([200, '']);
    expect(addrs()).toBe('');
    const bare = JSON.parse((await call('GET', '/containers/gaps-net/json')).text) as { NetworkSettings: { Networks?: Record<string, unknown> }; HostConfig: { NetworkMode: string } };
    expect([Object.keys(bare.NetworkSettings.Networks ?? {}), bare.HostConfig.NetworkMode]).toEqual([[], 'bridge']);
    expect(docker(['restart', '-t', '0', 'gaps-net']).status).toBe(0);
    expect(docker(['exec', 'gaps-net', 'ls', '/sys/class/net']).stdout).toBe('lo\n');
    const twice = rt(bundle, root, ['network', 'disconnect', 'gapsnet2', 'gaps-net']);
    expect([twice.status, twice.stderr]).toEqual([125, `Error: container ${JSON.parse((await call('GET', '/containers/gaps-net/json')).text).Id as string} is not connected to network "gapsnet2"\n`]);
    expect(rt(bundle, root, ['network', 'connect', 'gapsnet1', 'gaps-net']).status).toBe(0);
    expect(rt(bundle, root, ['network', 'connect', '--ip', '10.231.72.9', 'gapsnet2', 'gaps-net']).status).toBe(0);
    expect(addrs()).toMatch(/^eth0 inet 10\.231\.71\.\d+\/24; eth1 inet 10\.231\.72\.9\/24$/);
    // the record keeps both: a restart joins both networks, the fixed address kept
    expect(docker(['restart', '-t', '0', 'gaps-net']).status).toBe(0);
    expect(addrs().split('; ').map((a) => a.replace(/^eth\d /, '')).sort().join('; ')).toMatch(/^inet 10\.231\.71\.\d+\/24; inet 10\.231\.72\.9\/24$/);
    const none = rt(bundle, root, ['run', '-d', '--name', 'gaps-none', '--network', 'none', 'localhost/busybox', 'sleep', '300']);
    expect(none.status).toBe(0);
    const nc = rt(bundle, root, ['network', 'connect', 'gapsnet1', 'gaps-none']);
    expect(nc.status).toBe(125);
    expect(nc.stderr).toMatch(/^Error: container gaps-none uses network mode none: only a container on bridge networks/);
    // run-tool's CLI on a created container: its only network goes, and its start has lo alone
    expect(rt(bundle, root, ['create', '--name', 'gaps-off', '--network', 'gapsnet1', 'localhost/busybox', 'ls', '/sys/class/net']).status).toBe(0);
    const off = rt(bundle, root, ['network', 'disconnect', 'gapsnet1', 'gaps-off']);
    expect([off.status, off.stderr]).toEqual([0, '']);
    expect(rt(bundle, root, ['start', '-a', 'gaps-off']).stdout).toBe('lo\n');
    expect(docker(['rm', '-f', 'gaps-net', 'gaps-none', 'gaps-peer', 'gaps-off']).status).toBe(0);
    // nothing left attached: both networks can go without force
    expect(rt(bundle, root, ['network', 'rm', 'gapsnet1', 'gapsnet2']).status).toBe(0);
  }, 120_000);

  it.skipIf(!hasDocker || !hasSocat)('attach with stdin: docker run -i feeds piped input and its end closes the stdin; a container without -i takes none', () => {
    const r = spawnSync(DOCKER, ['-H', `unix://${sock}`, 'run', '-i', '--rm', '--network', 'none', 'localhost/busybox', 'sh', '-c', 'while read l; do echo "got $l"; done; echo eof; exit 6'], { input: 'one\ntwo\n', encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL', env: { ...process.env, DOCKER_CONFIG: join(dir, 'docker-config') } });
    expect([r.stdout, r.stderr, r.status]).toEqual(['got one\ngot two\neof\n', '', 6]);
    // without -i the container's stdin stays empty: the input is not read
    const n = spawnSync(DOCKER, ['-H', `unix://${sock}`, 'run', '--rm', '--network', 'none', 'localhost/busybox', 'sh', '-c', 'cat; echo done'], { input: 'ignored\n', encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL', env: { ...process.env, DOCKER_CONFIG: join(dir, 'docker-config') } });
    expect([n.stdout, n.status]).toEqual(['done\n', 0]);
  }, 120_000);

  it.skipIf(!hasSocat)('attach with stdin: input sent with the request head and a half-close before the start are neither dropped nor missed', async () => {
    const c = await call('POST', '/containers/create?name=gaps-early', JSON.stringify({ Image: 'localhost/busybox', Cmd: ['sh', '-c', 'while read l; do echo "got $l"; done; echo eof'], OpenStdin: true, StdinOnce: true, HostConfig: { NetworkMode: 'none' } }));
    expect(c.status).toBe(201);
    const out = await new Promise<string>((ok, bad) => {
      const s = connect(sock);
      let got = '';
      s.on('data', (d: Buffer) => (got += d.toString('latin1')));
      s.on('end', () => ok(got));
      s.on('error', bad);
      // the head, the stdin and the end in one go, before the container starts
      s.end('POST /v1.41/containers/gaps-early/attach?stdin=1&stream=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: x\r\nUpgrade: tcp\r\nConnection: Upgrade\r\n\r\nearly\n');
      setTimeout(() => void call('POST', '/containers/gaps-early/start'), 300);
      setTimeout(() => bad(new Error(`no end; got ${JSON.stringify(got)}`)), 30_000);
    });
    expect(out).toMatch(/^HTTP\/1\.1 101 [^]*got early\n[^]*eof\n$/);
    expect((await call('DELETE', '/containers/gaps-early?force=1')).status).toBe(204);
  }, 60_000);

  it.skipIf(!hasPyDocker || !hasSocat)('attach with stdin and a TTY: python3-docker attach_socket drives a shell; resize goes to the monitor; bad sizes are a 400', async () => {
    const r = py(`
import docker, sys
c = docker.APIClient(base_url='unix://' + sys.argv[1])
ct = c.create_container('localhost/busybox', ['sh'], tty=True, stdin_open=True, name='gaps-tty', host_config=c.create_host_config(network_mode='none'))
s = c.attach_socket(ct, params={'stdin': 1, 'stream': 1, 'stdout': 1, 'stderr': 1})
c.start(ct)
c.resize(ct, 33, 101)
s._sock.sendall(b'stty size; echo hi-$((40+2)); exit 5\\n')
out = b''
while True:
    d = s._sock.recv(4096)
    if not d: break
    out += d
print(b'33 101' in out, b'hi-42' in out, c.wait(ct)['StatusCode'])
c.remove_container(ct, force=True)
`);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('True True 5\n');
    expect((await call('POST', '/containers/gaps-nosuch/resize?h=10&w=10')).status).toBe(404);
    expect((await call('POST', '/containers/gaps-nosuch/resize?h=0&w=x')).status).toBe(400);
  }, 120_000);

  it.skipIf(!hasDocker || !hasSocat || !hasScript)('docker run -it in a terminal: a shell answers what is typed and its exit code comes back', () => {
    const cmd = `${DOCKER} -H unix://${sock} run -it --rm --network none localhost/busybox sh`;
    const r = spawnSync('sh', ['-c', `(sleep 2; printf 'echo it-$((6*7))\\n'; sleep 1; printf 'exit 4\\n'; sleep 2) | script -qec "${cmd}" /dev/null`], { encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL', env: { ...process.env, DOCKER_CONFIG: join(dir, 'docker-config') } });
    expect(r.stdout.replace(/\r/g, '')).toMatch(/\nit-42\n/);
    expect(r.status).toBe(4);
  }, 120_000);
});
