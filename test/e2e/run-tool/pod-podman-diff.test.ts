// Differential: the same pod scenarios with skiff's run-tool and Debian's podman 4.3 (a `--network none` pod and
// a bridge pod publishing 127.0.0.1:PORT:80), compared on pod ps/inspect/ps --pod columns and JSON keys and on the
// exit codes of the errors. podman runs with its own scratch --root/--runroot; the machine's store is not touched.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../shared/network/publish.ts';
import { makeBusyboxImage } from '../../helpers/busybox.ts';
import { isRoot, scratchDir } from '../../helpers/tmp.ts';
import { ok, run } from './commit-cp-helpers.ts';
import { hasPodPrograms } from './pod-helpers.ts';

const bin = join(import.meta.dirname, '../../../bin/run-tool.mjs');
const IMG = 'localhost/busybox:latest';
const hasPodman = existsSync('/usr/bin/podman');

/** The header line of a table, split on runs of 2+ spaces. */
const header = (out: string) => (out.split('\n')[0] ?? '').trim().split(/\s{2,}/);

describe.skipIf(!isRoot || !hasPodman || !hasPodPrograms)('differential: pods, run-tool vs podman 4.3', () => {
  let dir: string;
  let root: string;
  let podmanArgs: string[];
  let skPort: number;
  let pdPort: number;
  const sk = (args: string[]) => run(bin, root, args);
  const pd = (args: string[]) => spawnSync('podman', [...podmanArgs, ...args], { encoding: 'utf8', timeout: 120_000 });
  const both = (args: string[]) => [sk(args), pd(args)] as const;

  beforeAll(async () => {
    dir = (await scratchDir('skiff-poddiff-')).dir;
    root = join(dir, 'store');
    podmanArgs = ['--root', join(dir, 'podman-root'), '--runroot', join(dir, 'podman-run'), '--tmpdir', join(dir, 'podman-tmp'), '--storage-driver', 'overlay'];
    await makeBusyboxImage(root, dir);
    ok(bin, root, ['save', '-o', join(dir, 'busybox.tar'), 'localhost/busybox']);
    const l = pd(['load', '-i', join(dir, 'busybox.tar')]);
    if (l.status !== 0) throw new Error(`podman load failed: ${l.stderr}`);
    skPort = await freePort('tcp', '127.0.0.1');
    pdPort = await freePort('tcp', '127.0.0.1');
    for (const [r, port] of [[sk, skPort], [pd, pdPort]] as const) {
      for (const args of [
        ['pod', 'create', '--name', 'quiet', '--network', 'none', '--label', 'tier=test'],
        ['pod', 'create', '--name', 'web', '-p', `127.0.0.1:${port}:80`],
        ['run', '-d', '--pod', 'web', '--name', 'httpd', IMG, 'httpd', '-f', '-p', '80'],
        ['create', '--pod', 'quiet', '--name', 'idle', IMG, 'sleep', '300'],
      ]) {
        const x = r(args);
        if (x.status !== 0) throw new Error(`${r === sk ? 'run-tool' : 'podman'} ${args.join(' ')}: ${x.stderr}`);
      }
    }
  }, 180_000);

  afterAll(async () => {
    if (!dir) return;
    sk(['pod', 'rm', '-af', '-t', '0']);
    pd(['pod', 'rm', '-af', '-t', '0']);
    pd(['rmi', '-af']);
    const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(dir)).reverse();
    for (const m of mounts) spawnSync('umount', ['-l', m]);
    await rm(dir, { recursive: true, force: true, maxRetries: 20, retryDelay: 250 });
  }, 120_000);

  it('pod ps: the same columns (default, --ctr-names/--ctr-ids/--ctr-status), statuses and container counts', () => {
    for (const extra of [[], ['--ctr-names'], ['--ctr-ids', '--ctr-names', '--ctr-status'], ['--no-trunc']]) {
      const [a, b] = both(['pod', 'ps', ...extra]);
      expect(a.status).toBe(0);
      expect(header(a.stdout), extra.join(' ')).toEqual(header(b.stdout));
    }
    const fmt = ['pod', 'ps', '--sort', 'name', '--format', '{{.Name}} {{.Status}} {{.NumberOfContainers}} {{.Labels}}'];
    const [a, b] = both(fmt);
    expect(a.stdout).toBe(b.stdout);
    const table = ['pod', 'ps', '--format', 'table {{.ID}} {{.Name}} {{.Status}} {{.InfraID}} {{.NumberOfContainers}} {{.ContainerNames}} {{.Networks}} {{.Labels}}'];
    const [ta, tb] = both(table);
    expect(ta.stdout.split('\n')[0]).toBe(tb.stdout.split('\n')[0]);
    const [qa, qb] = both(['pod', 'ps', '-q']);
    expect(qa.stdout.trim().split('\n').map((l) => l.length)).toEqual(qb.stdout.trim().split('\n').map((l) => l.length));
  });

  it('pod ps --format json and pod inspect: the same keys (InfraConfig included); the same states, shares and ports', () => {
    const [a, b] = both(['pod', 'ps', '--format', 'json']);
    const ja = JSON.parse(a.stdout) as Record<string, unknown>[];
    const jb = JSON.parse(b.stdout) as Record<string, unknown>[];
    expect(Object.keys(ja[0]!).sort()).toEqual(Object.keys(jb[0]!).sort());
    expect(Object.keys((ja[0]!.Containers as object[])[0]!).sort()).toEqual(Object.keys((jb[0]!.Containers as object[])[0]!).sort());
    for (const name of ['quiet', 'web']) {
      const [ia, ib] = both(['pod', 'inspect', name]);
      const oa = JSON.parse(ia.stdout) as Record<string, unknown>;
      const ob = JSON.parse(ib.stdout) as Record<string, unknown>;
      expect(Object.keys(oa), name).toEqual(Object.keys(ob));
      expect(Object.keys(oa.InfraConfig as object)).toEqual(Object.keys(ob.InfraConfig as object));
      for (const k of ['Name', 'ExitPolicy', 'State', 'Hostname', 'Labels', 'CreateInfra', 'NumContainers']) expect(oa[k], `${name} ${k}`).toEqual(ob[k]);
      // podman lists the shared namespaces in map order (it varies from run to run): compared as a set
      expect([...(oa.SharedNamespaces as string[])].sort()).toEqual([...(ob.SharedNamespaces as string[])].sort());
      const ports = (o: Record<string, unknown>) => JSON.stringify((o.InfraConfig as { PortBindings: unknown }).PortBindings);
      expect(ports(oa).replace(String(skPort), 'PORT')).toBe(ports(ob).replace(String(pdPort), 'PORT'));
      const ca = (oa.Containers as { Name: string; State: string }[]).map((c) => `${c.Name.replace(/^[0-9a-f]{12}-/, 'ID-')} ${c.State}`).sort();
      const cb = (ob.Containers as { Name: string; State: string }[]).map((c) => `${c.Name.replace(/^[0-9a-f]{12}-/, 'ID-')} ${c.State}`).sort();
      expect(ca).toEqual(cb);
      expect(Object.keys((oa.Containers as object[])[0]!)).toEqual(Object.keys((ob.Containers as object[])[0]!));
    }
  });

  it('ps --pod: the same columns; the JSON names the pod and marks the infra container', () => {
    const [a, b] = both(['ps', '-a', '--pod']);
    expect(header(a.stdout)).toEqual(header(b.stdout));
    const [ja, jb] = both(['ps', '-a', '--pod', '--format', 'json']).map((r) => (JSON.parse(r.stdout) as { Names: string[]; PodName: string; IsInfra: boolean; Pod: string }[])
      .map((c) => `${c.Names[0]!.replace(/^[0-9a-f]{12}-/, 'ID-')} ${c.PodName} ${c.IsInfra} ${c.Pod.length}`).sort());
    expect(ja).toEqual(jb);
    const [fa, fb] = both(['ps', '-a', '--filter', 'pod=quiet', '--format', '{{.Names}}']);
    expect(fa.stdout.split('\n').map((l) => l.replace(/^[0-9a-f]{12}-/, 'ID-')).sort()).toEqual(fb.stdout.split('\n').map((l) => l.replace(/^[0-9a-f]{12}-/, 'ID-')).sort());
  });

  it('a member\'s inspect names its pod, its infra dependency and the shared modes as podman\'s', () => {
    const fmt = ['inspect', 'idle', '--format', '{{.Pod}} {{.IsInfra}} {{.Dependencies}} {{.HostConfig.NetworkMode}} {{.HostConfig.IpcMode}} {{.HostConfig.UTSMode}} {{.HostConfig.PidMode}}'];
    const [a, b] = both(fmt);
    expect(a.status).toBe(0);
    expect(a.stdout.replace(/[0-9a-f]{64}/g, 'ID')).toBe(b.stdout.replace(/[0-9a-f]{64}/g, 'ID'));
  });

  it('exit codes agree: missing pod, duplicate name, -p on a member, rm of the infra container, pod rm without -f', () => {
    const cases: string[][] = [
      ['pod', 'inspect', 'nope'],
      ['pod', 'rm', 'nope'],
      ['pod', 'start', 'nope'],
      ['pod', 'stop', 'nope'],
      ['pod', 'kill', 'nope'],
      ['pod', 'exists', 'nope'],
      ['pod', 'exists', 'quiet'],
      ['pod', 'create', '--name', 'quiet', '--network', 'none'],
      ['create', '--pod', 'web', '-p', '8080:80', IMG, 'true'],
      ['create', '--pod', 'nope', IMG, 'true'],
      ['pod', 'rm', 'web'],
    ];
    for (const args of cases) {
      const [a, b] = both(args);
      expect(a.status, `${args.join(' ')}: ${a.stderr}`).toBe(b.status);
    }
    const infraOf = (r: (a: string[]) => { stdout: string }) => r(['pod', 'inspect', 'quiet', '--format', '{{.InfraContainerID}}']).stdout.trim();
    const ra = sk(['rm', infraOf(sk)]);
    const rb = pd(['rm', infraOf(pd)]);
    expect(ra.status).toBe(rb.status);
    expect(ra.stderr.replace(/[0-9a-f]{64}/g, 'ID')).toBe(rb.stderr.replace(/[0-9a-f]{64}/g, 'ID'));
    // the same message for -p on a member
    const [pa, pb] = both(['create', '--pod', 'web', '-p', '8080:80', IMG, 'true']);
    expect(pa.stderr).toBe(pb.stderr);
  }, 120_000);
});
