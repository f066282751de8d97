import { posix } from 'node:path';
import { SkiffError } from '../errors.ts';
import type { ContainerConfig } from '../oci/types.ts';

/** The instructions `--change` accepts (podman import/commit). */
export const CHANGE_INSTRUCTIONS = ['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'LABEL', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR'] as const;

/** Splits `k=v k2="v 2"` words (double/single quotes and backslash escapes as a Dockerfile does). Pure. */
function words(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (quote) {
      if (ch === quote) quote = undefined;
      else if (ch === '\\' && quote === '"' && i + 1 < s.length) cur += s[++i];
      else cur += ch;
      continue;
    }
    if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (ch === '\\' && i + 1 < s.length) {
      cur += s[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (quote) throw new SkiffError('EINVALID', `unterminated quote in ${JSON.stringify(s)}`);
  if (inWord) out.push(cur);
  return out;
}

function jsonList(rest: string, what: string): string[] | undefined {
  const t = rest.trim();
  if (!t.startsWith('[')) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(t);
  } catch {
    return undefined; // not valid JSON: shell form, as Docker does
  }
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new SkiffError('EINVALID', `${what} expects a JSON array of strings`);
  return v as string[];
}

/** `k=v` pairs (or the legacy `k v` form) of ENV and LABEL. */
function pairs(rest: string, what: string): [string, string][] {
  const t = rest.trim();
  const ws = words(t);
  if (ws.length === 0) throw new SkiffError('EINVALID', `${what} needs at least one argument`);
  if (!ws[0]!.includes('=')) {
    // legacy form: the first word is the key, the rest of the line the value
    const m = /^(\S+)\s+(.*)$/s.exec(t);
    if (!m) throw new SkiffError('EINVALID', `${what} ${t}: expected KEY=VALUE`);
    return [[m[1]!, m[2]!]];
  }
  return ws.map((w) => {
    const i = w.indexOf('=');
    if (i <= 0) throw new SkiffError('EINVALID', `${what} ${JSON.stringify(w)}: expected KEY=VALUE`);
    return [w.slice(0, i), w.slice(i + 1)];
  });
}

/**
 * Applies Dockerfile-style `--change` instructions (`INSTRUCTION VALUE` or `INSTRUCTION=VALUE`: CMD,
 * ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR) to a copy of `base` and returns it, as
 * podman import/commit do: ENV and LABEL add to (and override) what is there, EXPOSE and VOLUME add, a
 * relative WORKDIR is joined to the current one, CMD/ENTRYPOINT take JSON or shell form. `base` is not
 * modified. EINVALID naming the bad instruction otherwise. Pure.
 */
export function applyChanges(base: ContainerConfig, changes: readonly string[]): ContainerConfig {
  const cfg: ContainerConfig = structuredClone(base);
  for (const c of changes) {
    const m = /^\s*([A-Za-z]+)(?:\s+|=)(.*)$/s.exec(c);
    if (!m) throw new SkiffError('EINVALID', `invalid change ${JSON.stringify(c)}: expected INSTRUCTION VALUE`);
    const ins = m[1]!.toUpperCase();
    const rest = m[2]!;
    const list = (): string[] => jsonList(rest, ins) ?? ['/bin/sh', '-c', rest.trim()];
    switch (ins) {
      case 'CMD':
        cfg.Cmd = list();
        break;
      case 'ENTRYPOINT':
        cfg.Entrypoint = list();
        break;
      case 'ENV': {
        const env = [...(cfg.Env ?? [])];
        for (const [k, v] of pairs(rest, 'ENV')) {
          const i = env.findIndex((e) => e === k || e.startsWith(`${k}=`));
          if (i >= 0) env[i] = `${k}=${v}`;
          else env.push(`${k}=${v}`);
        }
        cfg.Env = env;
        break;
      }
      case 'LABEL':
        cfg.Labels = { ...(cfg.Labels ?? {}), ...Object.fromEntries(pairs(rest, 'LABEL')) };
        break;
      case 'EXPOSE': {
        const ports = { ...(cfg.ExposedPorts ?? {}) };
        for (const p of words(rest)) {
          const pm = /^([0-9]{1,5})(?:-([0-9]{1,5}))?(?:\/(tcp|udp|sctp))?$/i.exec(p);
          if (!pm || Number(pm[1]) > 65535) throw new SkiffError('EINVALID', `EXPOSE ${JSON.stringify(p)}: expected PORT[/PROTO]`);
          ports[`${pm[1]}${pm[2] ? `-${pm[2]}` : ''}/${(pm[3] ?? 'tcp').toLowerCase()}`] = {};
        }
        cfg.ExposedPorts = ports;
        break;
      }
      case 'VOLUME': {
        const vols = { ...(cfg.Volumes ?? {}) };
        for (const v of jsonList(rest, 'VOLUME') ?? words(rest)) {
          if (!v.startsWith('/')) throw new SkiffError('EINVALID', `VOLUME ${JSON.stringify(v)}: must be an absolute path`);
          vols[v] = {};
        }
        cfg.Volumes = vols;
        break;
      }
      case 'WORKDIR': {
        const w = rest.trim();
        if (w === '') throw new SkiffError('EINVALID', 'WORKDIR needs a path');
        cfg.WorkingDir = posix.resolve(cfg.WorkingDir || '/', w);
        break;
      }
      case 'USER':
        if (rest.trim() === '') throw new SkiffError('EINVALID', 'USER needs a user');
        cfg.User = rest.trim();
        break;
      case 'STOPSIGNAL':
        if (rest.trim() === '') throw new SkiffError('EINVALID', 'STOPSIGNAL needs a signal');
        cfg.StopSignal = rest.trim();
        break;
      default:
        throw new SkiffError('EINVALID', `change ${JSON.stringify(ins)} is not supported: use one of ${CHANGE_INSTRUCTIONS.join(', ')}`);
    }
  }
  return cfg;
}
