import { parse, parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { documentsToYaml, generateDocuments, type GenerateContainer } from '../../../shared/kube/generate.ts';
import { isDns1123Label, isDns1123Subdomain, toDns1123Label } from '../../../shared/kube/types.ts';

function ctr(o: Partial<GenerateContainer> = {}): GenerateContainer {
  return {
    name: 'web',
    image: 'localhost/busybox:latest',
    imageConfig: { Env: ['PATH=/bin'], Cmd: ['sh'], WorkingDir: '' },
    entrypoint: [],
    cmd: ['sh'],
    env: ['PATH=/bin', 'container=skiff'],
    defaultEnv: ['container=skiff', 'TERM=xterm'],
    workingDir: '/',
    user: '',
    ports: [],
    capAdd: [],
    capDrop: [],
    privileged: false,
    readOnly: false,
    memory: 0,
    nanoCpus: 0,
    tty: false,
    stdin: false,
    restart: 'no',
    hostNetwork: false,
    mounts: [],
    ...o,
  };
}

describe('kube generate documents', () => {
  it('a plain container: no command, args, env or workingDir that the image already has', () => {
    const [pod] = generateDocuments([{ name: 'web-pod', ports: [], containers: [ctr()] }], []);
    expect(pod).toEqual({
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web-pod', labels: { app: 'web-pod' } },
      spec: { containers: [{ name: 'web', image: 'localhost/busybox:latest' }], restartPolicy: 'Never' },
    });
  });

  it('writes what differs from the image: command and args, env, workingDir, ports, securityContext, resources, volumes', () => {
    const c = ctr({
      entrypoint: ['httpd'], cmd: ['-f', '-p', '80'], env: ['PATH=/bin', 'A=1', 'container=skiff', 'HOSTNAME=x'], workingDir: '/srv', user: '1000:1001',
      ports: [{ hostIP: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'tcp' }], capAdd: ['CAP_NET_ADMIN'], capDrop: ['chown'],
      readOnly: true, memory: 64 * 1024 * 1024, nanoCpus: 5e8, restart: 'always', tty: true,
      mounts: [
        { type: 'bind', source: '/srv/data', destination: '/data', readOnly: true, file: false },
        { type: 'tmpfs', destination: '/scratch' },
        { type: 'volume', name: 'cache_v', destination: '/cache', readOnly: false },
      ],
    });
    const docs = generateDocuments([{ name: 'my_pod', ports: [], containers: [c] }], [], { service: true });
    expect(docs.map((d) => d.kind)).toEqual(['Pod', 'Service', 'PersistentVolumeClaim']);
    const pod = docs[0] as Extract<(typeof docs)[number], { kind: 'Pod' }>;
    expect(pod.metadata.name).toBe('my-pod');
    const k = pod.spec.containers[0]!;
    expect(k.command).toEqual(['httpd']);
    expect(k.args).toEqual(['-f', '-p', '80']);
    expect(k.env).toEqual([{ name: 'A', value: '1' }]);
    expect(k.workingDir).toBe('/srv');
    expect(k.ports).toEqual([{ containerPort: 80, hostPort: 8080, hostIP: '127.0.0.1', protocol: 'TCP' }]);
    expect(k.securityContext).toEqual({ capabilities: { add: ['NET_ADMIN'], drop: ['CHOWN'] }, runAsUser: 1000, runAsGroup: 1001, readOnlyRootFilesystem: true });
    expect(k.resources).toEqual({ limits: { memory: String(64 * 1024 * 1024), cpu: '500m' } });
    expect(k.tty).toBe(true);
    expect(pod.spec.restartPolicy).toBe('Always');
    expect(pod.spec.volumes).toEqual([
      { name: 'srv-data-host-0', hostPath: { path: '/srv/data', type: 'Directory' } },
      { name: 'scratch-tmpfs-1', emptyDir: { medium: 'Memory' } },
      { name: 'cache-v-pvc', persistentVolumeClaim: { claimName: 'cache-v' } },
    ]);
    expect(k.volumeMounts).toEqual([{ name: 'srv-data-host-0', mountPath: '/data', readOnly: true }, { name: 'scratch-tmpfs-1', mountPath: '/scratch' }, { name: 'cache-v-pvc', mountPath: '/cache' }]);
    expect(docs[1]).toMatchObject({ kind: 'Service', spec: { type: 'NodePort', selector: { app: 'my-pod' }, ports: [{ name: '80-tcp', port: 80, targetPort: 80, protocol: 'TCP' }] } });
    expect(docs[2]).toMatchObject({ kind: 'PersistentVolumeClaim', metadata: { name: 'cache-v' }, spec: { accessModes: ['ReadWriteOnce'] } });
  });

  it('every name written is DNS-1123 (podman would write nginx_pod)', () => {
    const docs = generateDocuments([{ name: 'Nginx_Pod.', ports: [], containers: [ctr({ name: 'Nginx_Pod.-My_Ctr', mounts: [{ type: 'bind', source: '/A_b/C', destination: '/x', readOnly: false, file: true }] })] }], ['Vol_1']);
    const y = documentsToYaml(docs);
    for (const d of parseAllDocuments(y)) {
      const o = d.toJS() as { metadata: { name: string }; spec: { containers?: { name: string }[]; volumes?: { name: string }[] } };
      expect(isDns1123Subdomain(o.metadata.name), o.metadata.name).toBe(true);
      for (const n of [...(o.spec.containers ?? []), ...(o.spec.volumes ?? [])].map((x) => x.name)) expect(isDns1123Label(n), n).toBe(true);
    }
    expect(y).toContain('---\n');
    expect(parse(y.split('---\n')[0]!).metadata.name).toBe('nginx-pod');
  });

  it('toDns1123Label trims, lower-cases and falls back', () => {
    expect(toDns1123Label('__A..b__')).toBe('a-b');
    expect(toDns1123Label('___', 'pod')).toBe('pod');
    expect(toDns1123Label('a'.repeat(70) + '-b')).toHaveLength(63);
  });
});

describe('generate then play (pure round trip)', () => {
  it('what generate writes, planPlay reads back as the same container configuration', async () => {
    const { planPlay } = await import('../../../shared/kube/play.ts');
    const c = ctr({
      name: 'rt-web', entrypoint: ['httpd'], cmd: ['-f'], env: ['PATH=/bin', 'A=1=2', 'container=skiff'], workingDir: '/srv', user: '5:6',
      capAdd: ['NET_ADMIN'], capDrop: ['CHOWN'], readOnly: true, memory: 1 << 26, nanoCpus: 25e7, restart: 'on-failure',
      mounts: [{ type: 'bind', source: '/srv', destination: '/s', readOnly: true, file: false }, { type: 'volume', name: 'data', destination: '/d', readOnly: false }, { type: 'tmpfs', destination: '/t' }],
    });
    const yaml = documentsToYaml(generateDocuments([{ name: 'rt', hostname: 'rt-host', ports: [{ hostIP: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'tcp' }], containers: [c] }], [], { service: true }));
    const plan = planPlay(yaml);
    expect(plan.warnings).toEqual([]);
    expect(plan.claims).toEqual(['data']);
    const [p] = plan.pods;
    expect(p).toMatchObject({ name: 'rt', hostname: 'rt-host', restart: 'on-failure', ports: [{ hostIP: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'tcp' }] });
    expect(p!.containers[0]).toMatchObject({
      name: 'web', entrypoint: ['httpd'], args: ['-f'], env: ['A=1=2'], workdir: '/srv', user: '5:6', capAdd: ['NET_ADMIN'], capDrop: ['CHOWN'], readOnly: true, memory: 1 << 26, cpus: 0.25,
      mounts: [{ volume: 'srv-host-0', destination: '/s', readOnly: true }, { volume: 'data-pvc', destination: '/d', readOnly: false }, { volume: 't-tmpfs-2', destination: '/t', readOnly: false }],
    });
    expect(p!.volumes).toEqual({ 'srv-host-0': { kind: 'hostPath', path: '/srv', type: 'Directory', field: 'spec.volumes[0].hostPath' }, 'data-pvc': { kind: 'claim', claim: 'data' }, 't-tmpfs-2': { kind: 'emptyDir', memory: true } });
  });
});
