import { spawn } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { SkiffError, throwIfAborted } from '../errors.ts';
import { writeFileAtomic } from '../store/atomic.ts';
import type { Credentials } from './types.ts';

/** Where credentials are looked up and written; every field defaults from the process. */
export interface CredentialOptions {
  /** `--authfile`: when set (or REGISTRY_AUTH_FILE is), the only file read or written. */
  authFile?: string;
  env?: NodeJS.ProcessEnv;
  /** Home directory (default os.homedir()). */
  home?: string;
  signal?: AbortSignal;
  /** Timeout of a credential helper run (ms, default 30 s). */
  helperTimeout?: number;
}

interface AuthEntry {
  auth?: string;
  identitytoken?: string;
  username?: string;
  password?: string;
}

interface AuthFileJson {
  auths?: Record<string, AuthEntry>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
  [k: string]: unknown;
}

const HELPER_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const KEY_RE = /^[A-Za-z0-9.\-[\]:]+(?:\/[a-z0-9._\-/]+)?$/;

/**
 * The auth files consulted, in order: the explicit `authFile`, else REGISTRY_AUTH_FILE (each alone when set);
 * otherwise `${XDG_RUNTIME_DIR}/containers/auth.json`, `${XDG_CONFIG_HOME:-~/.config}/containers/auth.json`,
 * `~/.docker/config.json` (containers-auth.json(5) order).
 */
export function authFileCandidates(opts: CredentialOptions = {}): string[] {
  const env = opts.env ?? process.env;
  if (opts.authFile) return [opts.authFile];
  if (env.REGISTRY_AUTH_FILE) return [env.REGISTRY_AUTH_FILE];
  const home = opts.home ?? env.HOME ?? homedir();
  const out: string[] = [];
  if (env.XDG_RUNTIME_DIR) out.push(join(env.XDG_RUNTIME_DIR, 'containers/auth.json'));
  out.push(join(env.XDG_CONFIG_HOME || join(home, '.config'), 'containers/auth.json'));
  out.push(join(home, '.docker/config.json'));
  return out;
}

/**
 * The file `login`/`logout` write: the explicit `authFile`, else REGISTRY_AUTH_FILE, else
 * `${XDG_RUNTIME_DIR}/containers/auth.json`, else `/run/containers/<uid>/auth.json` (podman's default).
 */
export function defaultAuthFileForWrite(opts: CredentialOptions = {}): string {
  const env = opts.env ?? process.env;
  if (opts.authFile) return opts.authFile;
  if (env.REGISTRY_AUTH_FILE) return env.REGISTRY_AUTH_FILE;
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, 'containers/auth.json');
  return join('/run/containers', String(process.getuid?.() ?? 0), 'auth.json');
}

async function readAuthFile(path: string): Promise<AuthFileJson | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw new SkiffError('EIO', `cannot read auth file ${path}: ${(e as Error).message}`, { cause: e });
  }
  if (text.trim() === '') return {};
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a JSON object');
    return v as AuthFileJson;
  } catch (e) {
    throw new SkiffError('EINVALID', `invalid auth file ${path}: ${(e as Error).message}`, { hint: 'fix or remove the file (see containers-auth.json(5))' });
  }
}

/** Normalises an `auths` key: drops a scheme and docker's legacy `/v1/` path; index.docker.io → docker.io. */
export function normalizeAuthKey(key: string): string {
  let k = key.trim();
  k = k.replace(/^[a-z]+:\/\//i, '');
  k = k.replace(/\/v[12]\/?$/, '').replace(/\/+$/, '');
  if (k === 'index.docker.io' || k === 'registry-1.docker.io') k = 'docker.io';
  return k;
}

function decodeEntry(e: AuthEntry, where: string): Credentials | undefined {
  if (typeof e.identitytoken === 'string' && e.identitytoken !== '') return { username: '<token>', password: e.identitytoken };
  if (typeof e.auth === 'string' && e.auth !== '') {
    const s = Buffer.from(e.auth, 'base64').toString('utf8');
    const i = s.indexOf(':');
    if (i <= 0) throw new SkiffError('EINVALID', `invalid "auth" value for ${where}: expected base64 of user:password`);
    return { username: s.slice(0, i), password: s.slice(i + 1) };
  }
  if (typeof e.username === 'string' && typeof e.password === 'string' && e.username !== '') return { username: e.username, password: e.password };
  return undefined;
}

/** Runs `docker-credential-<helper> get` with the server on stdin; undefined when it knows no credentials. */
export async function runCredentialHelper(helper: string, server: string, opts: CredentialOptions = {}): Promise<Credentials | undefined> {
  if (!HELPER_NAME_RE.test(helper)) throw new SkiffError('EINVALID', `invalid credential helper name ${JSON.stringify(helper)}`);
  throwIfAborted(opts.signal);
  const prog = `docker-credential-${helper}`;
  const env = opts.env ?? process.env;
  return new Promise((resolve, reject) => {
    const child = spawn(prog, ['get'], { stdio: ['pipe', 'pipe', 'pipe'], env, signal: opts.signal, timeout: opts.helperTimeout ?? 30_000 });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (out.length < 1 << 20) out += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (err.length < 4096) err += d;
    });
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') reject(new SkiffError('ENODEP', `credential helper ${prog} is not installed`, { hint: `install ${prog} or remove it from the auth file` }));
      else if (opts.signal?.aborted) reject(new SkiffError('EABORT', 'operation cancelled'));
      else reject(new SkiffError('EIO', `credential helper ${prog} failed: ${e.message}`));
    });
    child.on('close', (code) => {
      if (code !== 0) {
        if (/credentials not found/i.test(out + err)) return resolve(undefined);
        return reject(new SkiffError('EIO', `credential helper ${prog} exited with ${code} for ${server}`));
      }
      try {
        const v = JSON.parse(out) as { Username?: unknown; Secret?: unknown };
        if (typeof v.Username !== 'string' || typeof v.Secret !== 'string') throw new Error('missing Username/Secret');
        if (v.Secret === '') return resolve(undefined);
        resolve({ username: v.Username, password: v.Secret });
      } catch (e) {
        reject(new SkiffError('EINVALID', `credential helper ${prog} printed invalid JSON for ${server}: ${(e as Error).message}`));
      }
    });
    child.stdin.on('error', () => {});
    child.stdin.end(server);
  });
}

function helperServer(registry: string): string {
  return registry === 'docker.io' ? 'https://index.docker.io/v1/' : registry;
}

/**
 * Credentials for `registry/repository`, or undefined (anonymous). Files are read in authFileCandidates()
 * order; the first that knows the registry wins. Within a file: `credHelpers[registry]`, then `auths`
 * entries from the most specific namespace key (`registry/ns/repo`, `registry/ns`, …) to `registry`, then
 * `credsStore`. Read-only; secrets are never logged.
 */
export async function lookupCredentials(registry: string, repository: string, opts: CredentialOptions = {}): Promise<Credentials | undefined> {
  const keys: string[] = [];
  const parts = repository.split('/').filter((p) => p !== '');
  for (let i = parts.length; i >= 1; i--) keys.push(`${registry}/${parts.slice(0, i).join('/')}`);
  keys.push(registry);
  for (const file of authFileCandidates(opts)) {
    throwIfAborted(opts.signal);
    const json = await readAuthFile(file);
    if (json === undefined) continue;
    const helper = json.credHelpers?.[registry] ?? (registry === 'docker.io' ? json.credHelpers?.['index.docker.io'] : undefined);
    if (typeof helper === 'string' && helper !== '') {
      const c = await runCredentialHelper(helper, helperServer(registry), opts);
      if (c) return c;
    }
    if (json.auths && typeof json.auths === 'object') {
      const byKey = new Map<string, AuthEntry>();
      for (const [k, v] of Object.entries(json.auths)) {
        if (v && typeof v === 'object') {
          const nk = normalizeAuthKey(k);
          // an exact (already normal) key beats a legacy spelling of it
          if (!byKey.has(nk) || nk === k) byKey.set(nk, v);
        }
      }
      for (const k of keys) {
        const e = byKey.get(k);
        if (e) {
          const c = decodeEntry(e, `${k} in ${file}`);
          if (c) return c;
        }
      }
    }
    if (typeof json.credsStore === 'string' && json.credsStore !== '') {
      const c = await runCredentialHelper(json.credsStore, helperServer(registry), opts);
      if (c) return c;
    }
  }
  return undefined;
}

function checkKey(registry: string): string {
  if (!KEY_RE.test(registry) || registry.includes('..')) {
    throw new SkiffError('EINVALID', `invalid registry ${JSON.stringify(registry)} for login`, { hint: 'use host[:port] or host[:port]/namespace' });
  }
  return registry;
}

async function writeAuthJson(path: string, json: AuthFileJson): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFileAtomic(path, JSON.stringify(json, null, '\t') + '\n', 0o600);
}

/**
 * Verifies `creds` (through the caller's `verify`, which must reject on bad credentials) and stores them as
 * `auths[registry].auth` (base64 user:password) in the auth file, like `podman login`. Other entries and
 * fields are preserved. The file is replaced atomically with mode 0600 (its directory created 0700).
 * Returns the path written. Nothing is written when verification fails.
 */
export async function login(registry: string, creds: Credentials, opts: CredentialOptions & { verify: () => Promise<void> }): Promise<string> {
  checkKey(registry);
  if (creds.username === '' || creds.username.includes(':') && creds.username !== '<token>') {
    throw new SkiffError('EINVALID', 'invalid username for login: it must be non-empty and contain no ":"');
  }
  await opts.verify();
  const path = defaultAuthFileForWrite(opts);
  const json = (await readAuthFile(path)) ?? {};
  const auths = json.auths && typeof json.auths === 'object' ? { ...json.auths } : {};
  for (const k of Object.keys(auths)) if (normalizeAuthKey(k) === registry && k !== registry) delete auths[k];
  auths[registry] = creds.username === '<token>' ? { identitytoken: creds.password } : { auth: Buffer.from(`${creds.username}:${creds.password}`).toString('base64') };
  json.auths = auths;
  await writeAuthJson(path, json);
  return path;
}

/**
 * Removes the stored credentials of `registry` (every spelling of its key), or all `auths` entries when
 * `registry` is undefined, rewriting the auth file atomically (0600). ENOTFOUND when the registry had none.
 */
export async function logout(registry: string | undefined, opts: CredentialOptions = {}): Promise<void> {
  const path = defaultAuthFileForWrite(opts);
  const json = await readAuthFile(path);
  if (registry === undefined) {
    if (json === undefined) return;
    json.auths = {};
    await writeAuthJson(path, json);
    return;
  }
  checkKey(registry);
  const auths = json?.auths && typeof json.auths === 'object' ? { ...json.auths } : {};
  const gone = Object.keys(auths).filter((k) => k === registry || normalizeAuthKey(k) === registry);
  if (json === undefined || gone.length === 0) {
    throw new SkiffError('ENOTFOUND', `not logged into ${registry}`, { hint: `no credentials for ${registry} in ${path}` });
  }
  for (const k of gone) delete auths[k];
  json.auths = auths;
  await writeAuthJson(path, json);
}
