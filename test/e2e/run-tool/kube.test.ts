// kube generate / play / down with real runc, conmon and netavark: a pod generated from one store and played
// into another gives the same container configuration (checked inside the containers); every generated
// document deserializes into python3-kubernetes' API models; init containers, ConfigMap/Secret and emptyDir
// volumes; bad YAML fails with one line and creates nothing.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isDns1123Label, isDns1123Subdomain } from '../../../shared/kube/types.ts';
import { freePort } from '../../../shared/network/publish.ts';
import { makeBusyboxImage } from '../../helpers/busybox.ts';
import { isRoot, scratchDir } from '../../helpers/tmp.ts';
import { ok, run } from './commit-cp-helpers.ts';
import { FACTS, hasKubernetesClient, validateWithKubernetesModels } from './kube-helpers.ts';
import { hasPodPrograms, until } from './pod-helpers.ts';
import { parseAllDocuments } from 'yaml';

const bin = join(import.meta.dirname, '../../../bin/run-tool.mjs');
const IMG = 'localhost/busybox:latest';

describe.skipIf(!isRoot || !hasPodPrograms)('kube generate / play / down (root, real runc/conmon/netavark)', () => {
  let s: { dir: string; cleanup: () => Promise<void> };
  let a: string;
  let b: string;
  let host: string;
  const A = (args: string[]) => run(bin, a, args);
  const B = (args: string[]) => run(bin, b, args);
  const okA = (args: string[]) => ok(bin, a, args);
  const okB = (args: string[]) => ok(bin, b, args);

  beforeAll(async () => {
    s = await scratchDir('skiff-kube-');
    a = join(s.dir, 'a');
    b = join(s.dir, 'b');
    host = join(s.dir, 'host');
    mkdirSync(host);
    writeFileSync(join(host, 'f'), 'from-host\n');
    await makeBusyboxImage(a, s.dir);
    await makeBusyboxImage(b, s.dir);
  }, 120_000);

  afterEach(() => {
    for (const r of [A, B]) {
      r(['pod', 'rm', '-af', '-t', '0']);
      r(['rm', '-af']);
      r(['volume', 'prune', '-f']);
    }
  }, 60_000);

  afterAll(async () => {
    await s?.cleanup();
  }, 60_000);

  it('round trip: a pod generated from one store plays in another with the same configuration; down removes it, --force its volume', async () => {
    const port = await freePort('tcp', '127.0.0.1');
    okA(['volume', 'create', 'data']);
    okA(['pod', 'create', '--name', 'rt', '-p', `127.0.0.1:${port}:80`]);
    const common = ['-e', 'GREETING=hello', '-v', `${host}:/h:ro`, '-v', 'data:/data', '--cap-add', 'NET_ADMIN', '--cap-drop', 'CHOWN', '-m', '64m', '--cpus', '0.5'];
    okA(['run', '-d', '--pod', 'rt', '--name', 'rt-web', ...common, IMG, 'httpd', '-f', '-p', '80', '-h', '/h']);
    okA(['run', '-d', '--pod', 'rt', '--name', 'rt-user', ...common, '-u', '1000:1000', IMG, 'sleep', '300']);
    const facts = (r: typeof okA) => ['rt-web', 'rt-user'].map((c) => r(['exec', c, 'sh', '-c', FACTS]));
    const before = facts(okA);
    expect(before[0]).toContain('GREETING=hello');
    expect(before[1]).toContain('uid=1000(1000) gid=1000(1000)');
    expect(before[0]).toContain('h=from-host');
    expect(before[0]).toContain('h-ro');
    const file = join(s.dir, 'rt.yaml');
    okA(['kube', 'generate', '-s', '-f', file, 'rt']);
    const yaml = readFileSync(file, 'utf8');
    expect(yaml).toBe(okA(['generate', 'kube', '-s', 'rt']));
    expect(parseAllDocuments(yaml).map((d) => (d.toJS() as { kind: string }).kind)).toEqual(['Pod', 'Service', 'PersistentVolumeClaim']);
    okA(['pod', 'stop', '-t', '0', 'rt']);

    const play = B(['kube', 'play', file]);
    expect(play.status, play.stderr).toBe(0);
    const podId = okB(['pod', 'inspect', 'rt', '--format', '{{.Id}}']).trim();
    const ids = okB(['ps', '--filter', 'pod=rt', '--format', '{{.ID}} {{.Names}}', '--no-trunc']).trim().split('\n').filter((l) => !l.includes('-infra')).map((l) => l.split(' ')[0]);
    const lines = play.stdout.split('\n');
    expect(lines.slice(0, 3)).toEqual(['Pod:', podId, 'Containers:']);
    expect(lines.slice(3, 5).sort()).toEqual([...ids].sort());
    expect(lines.slice(5)).toEqual(['', 'Volumes:', 'data', '']);
    expect(play.stderr).toBe('');
    let got = '';
    expect(await until(() => {
      void fetch(`http://127.0.0.1:${port}/f`).then(async (r) => (got = await r.text()), () => {});
      return got === 'from-host\n';
    }, 10_000), got).toBe(true);
    expect(facts(okB)).toEqual(before);

    const down = okB(['kube', 'down', file]);
    expect(down).toBe(`Pods stopped:\n${podId}\nPods removed:\n${podId}\n`);
    expect(okB(['pod', 'ps', '-q'])).toBe('');
    expect(okB(['ps', '-aq'])).toBe('');
    expect(okB(['volume', 'ls', '-q']).trim()).toBe('data');
    expect(okB(['kube', 'play', '--down', '--force', file])).toBe('Volumes removed:\ndata\n');
    expect(okB(['volume', 'ls', '-q'])).toBe('');
  }, 180_000);

  it('every generated document deserializes into the python3-kubernetes models, and every name is DNS-1123', () => {
    okA(['volume', 'create', 'Cache_Vol']);
    okA(['create', '--name', 'My_App', '-p', '127.0.0.1:30080:80', '-v', `${host}:/h`, '-v', 'Cache_Vol:/c', '--tmpfs', '/t', '-u', '7', '--restart', 'always', IMG, 'sleep', '1']);
    okA(['pod', 'create', '--name', 'grp', '--hostname', 'grp-host']);
    okA(['create', '--pod', 'grp', '--name', 'grp-a', '--read-only', '--privileged', IMG, 'true']);
    const yaml = okA(['kube', 'generate', '-s', 'My_App', 'grp', 'Cache_Vol']);
    const docs = parseAllDocuments(yaml).map((d) => d.toJS() as { kind: string; metadata: { name: string }; spec: { containers?: { name: string }[]; volumes?: { name: string }[]; ports?: { name: string }[] } });
    expect(docs.map((d) => `${d.kind}/${d.metadata.name}`)).toEqual(['Pod/my-app-pod', 'Service/my-app-pod', 'Pod/grp', 'PersistentVolumeClaim/cache-vol']);
    for (const d of docs) {
      expect(isDns1123Subdomain(d.metadata.name), d.metadata.name).toBe(true);
      for (const n of [...(d.spec.containers ?? []), ...(d.spec.volumes ?? []), ...(d.spec.ports ?? [])].map((x) => x.name)) expect(isDns1123Label(n), n).toBe(true);
    }
    expect(docs[1]).toMatchObject({ spec: { ports: [{ nodePort: 30080, port: 80 }] } });
    if (hasKubernetesClient) expect(validateWithKubernetesModels(yaml)).toBe('V1Pod/my-app-pod V1Service/my-app-pod V1Pod/grp V1PersistentVolumeClaim/cache-vol');
  }, 60_000);

  it('init containers run in order before the others; ConfigMap, Secret and emptyDir volumes; env from both', () => {
    const cm = join(s.dir, 'cm.yaml');
    writeFileSync(cm, 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\ndata: {MODE: fast}\n');
    const file = join(s.dir, 'init.yaml');
    writeFileSync(file, `apiVersion: v1
kind: Secret
metadata: {name: sec}
stringData: {token: s3cret}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {app.conf: "level=2"}
---
apiVersion: v1
kind: Pod
metadata: {name: ini}
spec:
  restartPolicy: Never
  volumes:
  - {name: work, emptyDir: {}}
  - {name: conf, configMap: {name: cfg}}
  - {name: sec, secret: {secretName: sec}}
  initContainers:
  - {name: one, image: ${IMG}, command: [sh, -c, "echo one >> /work/log"], volumeMounts: [{name: work, mountPath: /work}]}
  - {name: two, image: ${IMG}, command: [sh, -c, "echo two >> /work/log"], volumeMounts: [{name: work, mountPath: /work}]}
  containers:
  - name: main
    image: ${IMG}
    command: [sleep, "300"]
    env:
    - {name: TOKEN, valueFrom: {secretKeyRef: {name: sec, key: token}}}
    envFrom: [{configMapRef: {name: extra}}]
    volumeMounts: [{name: work, mountPath: /work}, {name: conf, mountPath: /etc/app}, {name: sec, mountPath: /run/sec}]
`);
    const play = B(['kube', 'play', '--configmap', cm, file]);
    expect(play.status, play.stderr).toBe(0);
    expect(play.stdout).toMatch(/^Pod:\n[0-9a-f]{64}\nContainer:\n[0-9a-f]{64}\n\n$/);
    const out = okB(['exec', 'ini-main', 'sh', '-c', 'cat /work/log; echo $TOKEN $MODE; cat /etc/app/app.conf; echo; cat /run/sec/token']);
    expect(out).toBe('one\ntwo\ns3cret fast\nlevel=2\ns3cret');
    // init containers are gone once they ran
    expect(okB(['ps', '-a', '--format', '{{.Names}}']).split('\n').filter((n) => n.startsWith('ini-'))).toEqual(['ini-main']);
    okB(['kube', 'down', file]);
    expect(okB(['volume', 'ls', '-q'])).toBe('');
  }, 120_000);

  it('a Deployment plays spec.replicas pods; --start=false leaves them created; kube down removes them all', () => {
    const file = join(s.dir, 'deploy.yaml');
    writeFileSync(file, `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: dep}\nspec:\n  replicas: 2\n  template:\n    metadata: {labels: {app: dep}}\n    spec:\n      containers: [{name: c, image: ${IMG}, command: [sleep, "300"]}]\n`);
    const play = B(['play', 'kube', '--start=false', file]);
    expect(play.status, play.stderr).toBe(0);
    expect(play.stdout.match(/^Pod:$/gm)).toHaveLength(2);
    expect(okB(['ps', '-a', '--format', '{{.Names}} {{.Status}}']).split('\n').filter((l) => l.startsWith('dep-')).sort()).toEqual(['dep-pod-0-c Created', 'dep-pod-1-c Created']);
    okB(['pod', 'start', 'dep-pod-1']);
    expect(okB(['ps', '--format', '{{.Names}}']).split('\n')).toContain('dep-pod-1-c');
    const down = okB(['kube', 'down', file]);
    expect(down.match(/^[0-9a-f]{64}$/gm)).toHaveLength(4);
    expect(okB(['pod', 'ps', '-q'])).toBe('');
  }, 120_000);

  it('kube down removes a pod whose infra container lost its veth (netavark teardown finds it gone)', async () => {
    const port = await freePort('tcp', '127.0.0.1');
    const file = join(s.dir, 'veth.yaml');
    writeFileSync(file, `apiVersion: v1\nkind: Pod\nmetadata: {name: veth}\nspec:\n  containers:\n  - {name: c, image: ${IMG}, command: [sleep, "300"], ports: [{containerPort: 80, hostPort: ${port}, hostIP: 127.0.0.1}]}\n`);
    okB(['kube', 'play', file]);
    const infra = okB(['pod', 'inspect', 'veth', '--format', '{{.InfraContainerID}}']).trim();
    const del = spawnSync('ip', ['netns', 'exec', `skiff-${infra}`, 'ip', 'link', 'del', 'eth0'], { encoding: 'utf8' });
    expect(del.status, del.stderr).toBe(0);
    const down = B(['kube', 'down', file]);
    expect(down.status, down.stderr).toBe(0);
    expect(okB(['pod', 'ps', '-q'])).toBe('');
    expect(okB(['ps', '-aq'])).toBe('');
  }, 120_000);

  it('bad YAML: one line naming the document and field, exit 125, nothing created', () => {
    const pvc = 'apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: claim}\n---\n';
    const pod = (spec: string) => `${pvc}apiVersion: v1\nkind: Pod\nmetadata: {name: bad}\nspec:\n${spec}`;
    const cases: [string, string, RegExp][] = [
      ['syntax', `${pvc}kind: Pod\nmetadata: {name: [bad\n`, /^Error: document 2: invalid YAML at line \d+, column \d+: /],
      ['no containers', pod('  restartPolicy: Never\n'), /^Error: document 2 \(Pod bad\): spec.containers: required/],
      ['unknown volume type', pod(`  volumes: [{name: v, nfs: {path: /}}]\n  containers: [{name: c, image: ${IMG}}]\n`), /^Error: document 2 \(Pod bad\): spec.volumes\[0\].nfs: unsupported volume type "nfs"/],
      ['duplicate container', pod(`  containers: [{name: c, image: ${IMG}}, {name: c, image: ${IMG}}]\n`), /^Error: document 2 \(Pod bad\): spec.containers\[1\].name: duplicate container name "c"/],
      ['missing hostPath Directory', pod(`  volumes: [{name: v, hostPath: {path: ${join(s.dir, 'missing')}, type: Directory}}]\n  containers: [{name: c, image: ${IMG}, volumeMounts: [{name: v, mountPath: /v}]}]\n`), /^Error: document 2 \(Pod bad\): spec.volumes\[0\].hostPath.path: \S+ does not exist \(type Directory\)/],
      ['failing init container (made, then removed again)', pod(`  volumes: [{name: w, emptyDir: {}}, {name: c, persistentVolumeClaim: {claimName: claim}}]\n  initContainers: [{name: i, image: ${IMG}, command: ["false"], volumeMounts: [{name: w, mountPath: /w}, {name: c, mountPath: /c}]}]\n  containers: [{name: c, image: ${IMG}}]\n`), /^Error: document 2 \(Pod bad\): init container i exited with code 1/],
      ['image not stored', pod('  containers: [{name: c, image: "localhost/nothing:1"}]\n'), /^Error: localhost\/nothing:1: image not known/],
    ];
    for (const [what, text, want] of cases) {
      const p = run(bin, b, ['kube', 'play', '-'], { input: text });
      expect(p.status, what).toBe(125);
      expect(p.stderr.trim().split('\n'), what).toHaveLength(1);
      expect(p.stderr, what).toMatch(want);
      expect(okB(['pod', 'ps', '-q']), what).toBe('');
      expect(okB(['ps', '-aq']), what).toBe('');
      expect(okB(['volume', 'ls', '-q']), what).toBe('');
    }
  }, 120_000);
});
