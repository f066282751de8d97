import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

/** The programs the pod suites need (real runc, conmon, catatonit for the infra image, busybox for the base image). */
const has = (p: string) => spawnSync('sh', ['-c', `command -v ${p}`]).status === 0;
export const hasPodPrograms = ['runc', 'conmon', 'busybox'].every(has) && (has('catatonit') || existsSync('/usr/libexec/podman/catatonit'));

/** The inode of `/proc/<pid>/ns/<kind>` (`net:[4026…]` → the number). */
export function nsInode(pid: number, kind: 'net' | 'ipc' | 'uts' | 'pid'): string {
  return readlinkSync(`/proc/${pid}/ns/${kind}`).replace(/^[a-z]+:\[(\d+)\]$/, '$1');
}

/** Mount points whose path contains `needle` (what a removal must leave none of). */
export function mountsUnder(needle: string): string[] {
  return readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.includes(needle));
}

/** Named network namespaces (`ip netns list`) of container `id`. */
export function netnsOf(id: string): string[] {
  return spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.includes(id));
}

/** Lines of the firewall ruleset (nft, else iptables-save) that mention `needle` (a published port). */
export function firewallRulesWith(needle: string): string[] {
  const nft = spawnSync('nft', ['list', 'ruleset'], { encoding: 'utf8' });
  const ipt = spawnSync('iptables-save', [], { encoding: 'utf8' });
  return `${nft.stdout ?? ''}\n${ipt.stdout ?? ''}`.split('\n').filter((l) => l.includes(needle));
}

/** An HTTP/1.0 GET through busybox nc inside a container (busybox wget crashes on this machine). */
export const NC_GET = 'printf "GET / HTTP/1.0\\r\\n\\r\\n" | nc 127.0.0.1 80 | tail -1';

/** Polls `fn` until it returns true or `ms` pass. */
export async function until(fn: () => boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (fn()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return fn();
}

/** Every cgroup directory of pod `podId` (`skiff_parent/<id>`) under any mounted hierarchy (v1) or the v2 root. */
export function podCgroups(podId: string): string[] {
  const base = '/sys/fs/cgroup';
  const hierarchies = existsSync(join(base, 'cgroup.controllers')) ? [base] : readdirSync(base).map((h) => join(base, h));
  return hierarchies.map((h) => join(h, 'skiff_parent', podId)).filter((d) => existsSync(d));
}
