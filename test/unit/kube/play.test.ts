import { describe, expect, it } from 'vitest';
import { isSkiffError } from '../../../shared/errors.ts';
import { createdBy, defaultPullPolicy, parseCpuQuantity, parseMemoryQuantity, planPlay, pullPolicyOf } from '../../../shared/kube/play.ts';

function fails(text: string): string {
  try {
    planPlay(text);
  } catch (e) {
    if (!isSkiffError(e, 'EINVALID')) throw e;
    expect(e.message.split('\n')).toHaveLength(1);
    return e.message;
  }
  throw new Error('planPlay accepted it');
}

const POD = `apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
  - name: httpd
    image: localhost/busybox:latest
`;

describe('kube play plan', () => {
  it('reads Pod, Deployment, PVC, ConfigMap and Secret into skiff terms', () => {
    const plan = planPlay(`apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {COLOR: blue, app.conf: "x=1"}
---
apiVersion: v1
kind: Secret
metadata: {name: sec}
data: {PASSWORD: aHVudGVyMg==}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  replicas: 2
  template:
    spec:
      restartPolicy: OnFailure
      securityContext: {runAsUser: 1000}
      volumes:
      - {name: conf, configMap: {name: cfg, items: [{key: app.conf, path: app.conf}]}}
      - {name: pw, secret: {secretName: sec}}
      - {name: d, persistentVolumeClaim: {claimName: data}}
      - {name: t, emptyDir: {medium: Memory}}
      initContainers:
      - {name: setup, image: "127.0.0.1:5000/x:1.0", command: [sh, -c, "true"]}
      containers:
      - name: main
        image: localhost/busybox:latest
        args: [sleep, "300"]
        env:
        - {name: A, value: "1"}
        - {name: C, valueFrom: {configMapKeyRef: {name: cfg, key: COLOR}}}
        - {name: P, valueFrom: {secretKeyRef: {name: sec, key: PASSWORD}}}
        envFrom: [{prefix: X_, configMapRef: {name: cfg}}]
        ports: [{containerPort: 80, hostPort: 8080, hostIP: 127.0.0.1}]
        securityContext: {capabilities: {add: [NET_ADMIN], drop: [CHOWN]}, runAsGroup: 5, readOnlyRootFilesystem: true}
        resources: {limits: {memory: 64Mi, cpu: 500m}}
        volumeMounts: [{name: conf, mountPath: /etc/app}, {name: d, mountPath: /data, readOnly: true}]
        frobnicate: true
---
apiVersion: v1
kind: Namespace
metadata: {name: ns}
`);
    expect(plan.pods.map((p) => p.name)).toEqual(['app-pod-0', 'app-pod-1']);
    expect(plan.claims).toEqual(['data']);
    const p = plan.pods[0]!;
    expect(p.restart).toBe('on-failure');
    expect(p.ports).toEqual([{ hostIP: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'tcp' }]);
    const c = p.containers[0]!;
    expect(c.env).toEqual(['X_COLOR=blue', 'X_app.conf=x=1', 'A=1', 'C=blue', 'P=hunter2']);
    expect(c).toMatchObject({ args: ['sleep', '300'], user: '1000:5', capAdd: ['NET_ADMIN'], capDrop: ['CHOWN'], readOnly: true, memory: 64 * 1024 * 1024, cpus: 0.5, pullPolicy: 'never' });
    expect(c.entrypoint).toBeUndefined();
    expect(p.initContainers[0]).toMatchObject({ name: 'setup', entrypoint: ['sh', '-c', 'true'], pullPolicy: 'missing' });
    expect(p.volumes.conf).toEqual({ kind: 'files', source: 'configMap', files: { 'app.conf': Buffer.from('x=1') } });
    expect(p.volumes.pw).toEqual({ kind: 'files', source: 'secret', files: { PASSWORD: Buffer.from('hunter2') } });
    expect(p.volumes.t).toEqual({ kind: 'emptyDir', memory: true });
    // unknown fields and kinds are warned by name, never silently dropped
    expect(plan.warnings).toContain('document 4 (Deployment app): unknown field "spec.template.spec.containers[0].frobnicate" ignored');
    expect(plan.warnings).toContain('document 5 (Namespace ns): kind "Namespace" is not supported and was ignored');
  });

  it('imagePullPolicy as Kubernetes defines it; localhost/ images are never pulled', () => {
    expect(defaultPullPolicy('busybox')).toBe('Always');
    expect(defaultPullPolicy('127.0.0.1:5000/busybox:latest')).toBe('Always');
    expect(defaultPullPolicy('127.0.0.1:5000/busybox:1.36')).toBe('IfNotPresent');
    expect(defaultPullPolicy('127.0.0.1:5000/busybox@sha256:' + 'a'.repeat(64))).toBe('IfNotPresent');
    expect(pullPolicyOf('127.0.0.1:5000/busybox', undefined)).toBe('always');
    expect(pullPolicyOf('127.0.0.1:5000/busybox', 'Never')).toBe('never');
    expect(pullPolicyOf('localhost/busybox:latest', undefined)).toBe('never');
    expect(pullPolicyOf('localhost/busybox:latest', 'Always')).toBe('never');
  });

  it('quantities', () => {
    expect(parseMemoryQuantity('128Mi')).toBe(128 * 1024 * 1024);
    expect(parseMemoryQuantity('1G')).toBe(1e9);
    expect(parseMemoryQuantity(1024)).toBe(1024);
    expect(parseMemoryQuantity('12 apples')).toBeUndefined();
    expect(parseCpuQuantity('250m')).toBe(0.25);
    expect(parseCpuQuantity(2)).toBe(2);
  });

  it('bad YAML: one line naming the document and the field', () => {
    expect(fails(`${POD}  - name: [unclosed\n`)).toMatch(/^document 1: invalid YAML at line \d+, column \d+: /);
    expect(fails('apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec: {}\n')).toBe('document 1 (Pod web): spec.containers: required');
    expect(fails(`${POD}  volumes:\n  - name: v\n    nfs: {server: x, path: /}\n`)).toBe('document 1 (Pod web): spec.volumes[0].nfs: unsupported volume type "nfs": want hostPath, emptyDir, persistentVolumeClaim, configMap or secret');
    expect(fails(`${POD}  - name: httpd\n    image: localhost/busybox:latest\n`)).toBe('document 1 (Pod web): spec.containers[1].name: duplicate container name "httpd"');
    expect(fails(POD.replace('name: web', 'name: nginx_pod'))).toMatch(/^document 1 \(Pod nginx_pod\): metadata.name: "nginx_pod" is not a valid Kubernetes name/);
    expect(fails(`${POD}    volumeMounts: [{name: nope, mountPath: /x}]\n`)).toBe('document 1 (Pod web): spec.containers[0].volumeMounts[0].name: no volume "nope" in spec.volumes');
    expect(fails(`${POD}    env: [{name: A, valueFrom: {configMapKeyRef: {name: missing, key: k}}}]\n`)).toMatch(/^document 1 \(Pod web\): spec.containers\[0\].env\[0\].valueFrom: ConfigMap "missing" not found/);
    expect(fails(`---\n${POD}---\nkind: Pod\nmetadata: {name: b}\nspec:\n  containers: [{name: c}]\n`)).toBe('document 2 (Pod b): spec.containers[0].image: required');
  });

  it('createdBy names the pods and claims a file made, without needing its ConfigMaps', () => {
    expect(createdBy(`${POD}  volumes: [{name: x, persistentVolumeClaim: {claimName: w}}]\n---\nkind: Deployment\nmetadata: {name: d}\nspec: {replicas: 2}\n---\nkind: PersistentVolumeClaim\nmetadata: {name: v}\n`)).toEqual({ pods: ['web', 'd-pod-0', 'd-pod-1'], claims: ['w', 'v'] });
  });
});
