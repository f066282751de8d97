/**
 * Dockerfile instructions that edit the image config, as data: ENV, LABEL, EXPOSE (port normalisation), VOLUME,
 * WORKDIR, STOPSIGNAL, HEALTHCHECK (durations in nanoseconds), CMD/ENTRYPOINT values and ONBUILD trigger hand-over.
 * Pure and deterministic; inputs are already-expanded strings.
 */
import { posix } from 'node:path';
import { parseDuration } from '../../cli/units.ts';
import type { ContainerConfig, HealthConfig, ImageConfig } from '../../oci/types.ts';
import { invalid } from './invalid.ts';

/** A config edit: each field present replaces the whole field of the container config; `null` removes it. */
export interface ConfigEdit {
  config?: { [K in keyof ContainerConfig]?: ContainerConfig[K] | null };
  author?: string;
}

/** Applies an edit to an image config and returns a new config (the input is not modified). Idempotent. */
export function applyConfigEdit(img: ImageConfig, edit: ConfigEdit): ImageConfig {
  const out: ImageConfig = { ...img, config: { ...(img.config ?? {}) } };
  for (const [k, v] of Object.entries(edit.config ?? {})) {
    const c = out.config as Record<string, unknown>;
    if (v === null) delete c[k];
    else c[k] = v;
  }
  if (edit.author !== undefined) out.author = edit.author;
  return out;
}

/** ENV: sets or replaces variables in `Env`, keeping their order (a replaced key stays where it was). */
export function envEdit(cfg: ContainerConfig, pairs: readonly { key: string; value: string }[]): ConfigEdit {
  const env = [...(cfg.Env ?? [])];
  for (const { key, value } of pairs) {
    if (key === '') throw invalid('ENV names can not be blank');
    const i = env.findIndex((e) => e === key || e.startsWith(key + '='));
    if (i >= 0) env[i] = `${key}=${value}`;
    else env.push(`${key}=${value}`);
  }
  return { config: { Env: env } };
}

/** LABEL: merges labels (later pairs win). */
export function labelEdit(cfg: ContainerConfig, pairs: readonly { key: string; value: string }[]): ConfigEdit {
  const labels = { ...(cfg.Labels ?? {}) };
  for (const { key, value } of pairs) {
    if (key === '') throw invalid('LABEL names can not be blank');
    labels[key] = value;
  }
  return { config: { Labels: labels } };
}

/** Normalises EXPOSE words: `80` → `80/tcp`, `53/UDP` → `53/udp`, ranges `8000-8002` → one entry per port. */
export function normalizePorts(words: readonly string[]): string[] {
  const out: string[] = [];
  for (const w of words) {
    const m = /^(\d+)(?:-(\d+))?(?:\/([A-Za-z]+))?$/u.exec(w);
    if (m === null) throw invalid(`invalid containerPort: ${w}`, 'write EXPOSE PORT[/tcp|udp|sctp] or a range like 8000-8010');
    const proto = (m[3] ?? 'tcp').toLowerCase();
    if (!['tcp', 'udp', 'sctp'].includes(proto)) throw invalid(`invalid proto: ${m[3]}`, 'use tcp, udp or sctp');
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (lo < 0 || hi > 65535 || hi < lo) throw invalid(`invalid port range: ${w}`);
    for (let p = lo; p <= hi; p++) out.push(`${p}/${proto}`);
  }
  return out;
}

/** EXPOSE: merges normalised ports into ExposedPorts. */
export function exposeEdit(cfg: ContainerConfig, words: readonly string[]): ConfigEdit {
  const ports = { ...(cfg.ExposedPorts ?? {}) };
  for (const p of normalizePorts(words)) ports[p] = {};
  return { config: { ExposedPorts: ports } };
}

/** VOLUME: merges paths into Volumes; an empty path is an error. */
export function volumeEdit(cfg: ContainerConfig, paths: readonly string[]): ConfigEdit {
  const vols = { ...(cfg.Volumes ?? {}) };
  for (const p of paths) {
    if (p.trim() === '') throw invalid('VOLUME specified can not be an empty string');
    vols[p] = {};
  }
  return { config: { Volumes: vols } };
}

/**
 * WORKDIR: resolves `path` against the previous working directory and cleans it (`..`, `.`, duplicate slashes).
 * Directories under /proc are refused (BU-05: /proc/self/fd/N and /proc/self/cwd escapes).
 */
export function resolveWorkdir(previous: string | undefined, path: string): string {
  if (path === '') throw invalid('WORKDIR requires exactly one argument');
  const abs = posix.normalize(posix.isAbsolute(path) ? path : posix.join(previous || '/', path));
  const clean = abs.length > 1 ? abs.replace(/\/+$/u, '') : abs;
  if (clean === '/proc' || clean.startsWith('/proc/')) {
    throw invalid(`WORKDIR ${clean} is under /proc and is refused`, 'choose a working directory outside /proc');
  }
  return clean;
}

/** Signal names Linux knows, for STOPSIGNAL validation. */
const SIGNALS = new Set([
  'ABRT', 'ALRM', 'BUS', 'CHLD', 'CLD', 'CONT', 'FPE', 'HUP', 'ILL', 'INT', 'IO', 'IOT', 'KILL', 'PIPE', 'POLL',
  'PROF', 'PWR', 'QUIT', 'SEGV', 'STKFLT', 'STOP', 'SYS', 'TERM', 'TRAP', 'TSTP', 'TTIN', 'TTOU', 'URG', 'USR1',
  'USR2', 'VTALRM', 'WINCH', 'XCPU', 'XFSZ', 'UNUSED',
]);

/** Validates a STOPSIGNAL value: a name with or without SIG, RTMIN+n/RTMAX-n, or a number 1–64. Returns it as given. */
export function validateStopSignal(sig: string): string {
  const s = sig.toUpperCase().replace(/^SIG/u, '');
  const n = /^\d+$/u.test(sig) ? Number(sig) : NaN;
  const rt = /^RT(MIN|MAX)([+-](\d+))?$/u.exec(s);
  const ok = (n >= 1 && n <= 64) || SIGNALS.has(s) || (rt !== null && Number(rt[3] ?? 0) <= 30);
  if (!ok) throw invalid(`invalid signal: ${sig}`, 'use a signal name such as SIGTERM or a number 1-64');
  return sig;
}

/** HEALTHCHECK options (flags already expanded). */
export interface HealthcheckInput {
  none: boolean;
  test?: { form: 'exec'; args: string[] } | { form: 'shell'; command: string };
  flags: Record<string, string | undefined>;
}

/** HEALTHCHECK → the docker-format HealthConfig (durations in nanoseconds; each must be 0 or ≥ 1ms). */
export function healthcheckConfig(h: HealthcheckInput): HealthConfig {
  if (h.none) return { Test: ['NONE'] };
  const hc: HealthConfig = {};
  if (h.test?.form === 'exec') hc.Test = ['CMD', ...h.test.args];
  else if (h.test?.form === 'shell') hc.Test = ['CMD-SHELL', h.test.command];
  const dur = (flag: string, field: 'Interval' | 'Timeout' | 'StartPeriod' | 'StartInterval'): void => {
    const v = h.flags[flag];
    if (v === undefined) return;
    const ns = parseDuration(v, 'ns');
    if (ns !== 0 && ns < 1e6) throw invalid(`--${flag} cannot be less than 1ms`);
    if (ns !== 0) hc[field] = ns;
  };
  dur('interval', 'Interval');
  dur('timeout', 'Timeout');
  dur('start-period', 'StartPeriod');
  dur('start-interval', 'StartInterval');
  const r = h.flags.retries;
  if (r !== undefined) {
    if (!/^\d+$/u.test(r)) throw invalid(`--retries must be a non-negative integer, got "${r}"`);
    if (Number(r) !== 0) hc.Retries = Number(r);
  }
  return hc;
}

/**
 * CMD/ENTRYPOINT value: exec form as is, shell form wrapped in the current shell (default `/bin/sh -c`).
 */
export function commandValue(cmd: { form: 'exec'; args: string[] } | { form: 'shell'; command: string }, shell: readonly string[] | undefined): string[] {
  return cmd.form === 'exec' ? [...cmd.args] : [...(shell?.length ? shell : ['/bin/sh', '-c']), cmd.command];
}

/**
 * ENTRYPOINT: sets Entrypoint; an inherited Cmd (one not set by a CMD earlier in this stage) is reset, as Docker.
 */
export function entrypointEdit(value: string[], cmdSetInStage: boolean): ConfigEdit {
  return cmdSetInStage ? { config: { Entrypoint: value } } : { config: { Entrypoint: value, Cmd: null } };
}

/**
 * ONBUILD hand-over: the triggers of the parent image to run at the start of a child stage, and the config with them
 * cleared, so they run in children but never in grandchildren.
 */
export function takeOnbuildTriggers(parent: ImageConfig): { triggers: string[]; config: ImageConfig } {
  const triggers = [...(parent.config?.OnBuild ?? [])];
  const config = applyConfigEdit(parent, { config: { OnBuild: null } });
  return { triggers, config };
}

/** ONBUILD: appends a trigger (stored as its text, unexpanded). */
export function onbuildEdit(cfg: ContainerConfig, trigger: string): ConfigEdit {
  return { config: { OnBuild: [...(cfg.OnBuild ?? []), trigger] } };
}
