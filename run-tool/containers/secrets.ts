/**
 * Secrets with podman's `file` driver: `<root>/secrets/` (0700) holds `secrets.json` (names, ids, times, labels;
 * 0600) and `data/<id>` (the bytes; 0600). Data files are written to a 0600 temp file and renamed, so a secret's
 * bytes are never readable by anyone but the store's owner, not even for a moment; the metadata is rewritten
 * atomically after the data exists and before it is removed, so a crash leaves at most an unreferenced data file.
 * Every change runs under `<root>/locks/secrets.lock`. Nothing here ever prints or returns data except readSecretData.
 */
import { randomBytes } from 'node:crypto';
import { chmod, chown, lstat, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { SkiffError, type Cancellable } from '../../shared/errors.ts';
import { writeFileAtomic } from '../../shared/store/atomic.ts';
import { withLock } from '../../shared/store/lock.ts';
import { storePaths } from '../../shared/store/paths.ts';
import { compareTimestamps } from '../../shared/time/compare-timestamps.ts';

/** podman's `secret inspect` document (the data itself is never part of it). */
export interface SecretInfo {
  ID: string;
  CreatedAt: string;
  UpdatedAt: string;
  Spec: { Name: string; Driver: { Name: 'file'; Options: Record<string, string> }; Labels: Record<string, string> };
}

/** The bytes podman's file driver accepts at most. */
export const SECRET_MAX_BYTES = 512000;
const NAME_RE = /^[a-zA-Z0-9]([a-zA-Z0-9_.-]{0,62}[a-zA-Z0-9])?$/;
const ID_RE = /^[0-9a-f]{25}$/;

function dirs(root: string): { dir: string; meta: string; data: string; lock: string } {
  const dir = join(storePaths(root).root, 'secrets');
  return { dir, meta: join(dir, 'secrets.json'), data: join(dir, 'data'), lock: join(storePaths(root).locks, 'secrets.lock') };
}

/** Validates a secret name with podman's rule and message (EINVALID). Pure. */
export function validateSecretName(name: string): string {
  if (!NAME_RE.test(name)) throw new SkiffError('EINVALID', `only 64 [a-zA-Z0-9-_.] characters allowed, and the start and end character must be [a-zA-Z0-9]: ${name}: invalid secret name`);
  return name;
}

async function readAll(root: string): Promise<SecretInfo[]> {
  try {
    const doc = JSON.parse(await readFile(dirs(root).meta, 'utf8')) as { secrets?: SecretInfo[] };
    return Array.isArray(doc.secrets) ? doc.secrets.filter((s) => ID_RE.test(s.ID)) : [];
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new SkiffError('EIO', `cannot read the secrets of this store: ${(e as Error).message}`, { cause: e });
  }
}

async function writeAll(root: string, list: readonly SecretInfo[]): Promise<void> {
  await writeFileAtomic(dirs(root).meta, `${JSON.stringify({ secrets: list }, null, 1)}\n`, 0o600);
}

async function withSecretsLock<T>(root: string, fn: () => Promise<T>, o: Cancellable): Promise<T> {
  const d = dirs(root);
  await mkdir(storePaths(root).locks, { recursive: true, mode: 0o700 });
  await mkdir(d.data, { recursive: true, mode: 0o700 });
  await chmod(d.dir, 0o700);
  return withLock(d.lock, o.signal ? { signal: o.signal } : {}, fn);
}

/** The secret with this name, full ID or unique ID prefix; ENOTFOUND with podman's message. Read-only. */
export async function findSecret(root: string, nameOrId: string): Promise<SecretInfo> {
  const all = await readAll(root);
  const hit = all.find((s) => s.Spec.Name === nameOrId) ?? all.find((s) => s.ID === nameOrId);
  if (hit) return hit;
  const prefixed = /^[0-9a-f]{1,24}$/.test(nameOrId) ? all.filter((s) => s.ID.startsWith(nameOrId)) : [];
  if (prefixed.length === 1) return prefixed[0]!;
  throw new SkiffError('ENOTFOUND', `no secret with name or id "${nameOrId}": no such secret`);
}

/** Every secret, newest first (podman's `secret ls` order). Read-only. */
export async function listSecrets(root: string): Promise<SecretInfo[]> {
  return (await readAll(root)).sort((a, b) => compareTimestamps(b.CreatedAt, a.CreatedAt));
}

/**
 * Stores secret `name` holding `data` (1 to 512000 bytes): EINVALID for a bad name or size, EEXIST ("secret name in
 * use") when the name is taken. Returns its new 25-hex ID. Data first (0600 temp + rename), then the metadata.
 */
export async function createSecret(root: string, name: string, data: Uint8Array, o: Cancellable & { labels?: Record<string, string> } = {}): Promise<SecretInfo> {
  validateSecretName(name);
  if (data.length === 0 || data.length >= SECRET_MAX_BYTES) throw new SkiffError('EINVALID', `secret data must be larger than 0 and less than ${SECRET_MAX_BYTES} bytes`);
  const d = dirs(root);
  return withSecretsLock(
    root,
    async () => {
      const all = await readAll(root);
      if (all.some((s) => s.Spec.Name === name)) throw new SkiffError('EEXIST', `${name}: secret name in use`);
      const id = randomBytes(13).toString('hex').slice(0, 25);
      const tmp = join(d.data, `.${id}.tmp`);
      const fh = await open(tmp, 'wx', 0o600);
      try {
        await fh.writeFile(data);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, join(d.data, id));
      const now = new Date().toISOString();
      const info: SecretInfo = { ID: id, CreatedAt: now, UpdatedAt: now, Spec: { Name: name, Driver: { Name: 'file', Options: { path: d.data } }, Labels: { ...o.labels } } };
      await writeAll(root, [...all, info]);
      return info;
    },
    o,
  );
}

/** Removes a secret (metadata first, then its data). ENOTFOUND when absent. Returns what was removed. */
export async function removeSecret(root: string, nameOrId: string, o: Cancellable = {}): Promise<SecretInfo> {
  return withSecretsLock(
    root,
    async () => {
      const s = await findSecret(root, nameOrId);
      await writeAll(root, (await readAll(root)).filter((x) => x.ID !== s.ID));
      await rm(join(dirs(root).data, s.ID), { force: true });
      return s;
    },
    o,
  );
}

/** The bytes of secret `nameOrId` (a regular file, never followed through a link). ENOTFOUND when absent. */
export async function readSecretData(root: string, nameOrId: string): Promise<{ info: SecretInfo; data: Buffer }> {
  const info = await findSecret(root, nameOrId);
  const file = join(dirs(root).data, info.ID);
  const st = await lstat(file).catch(() => undefined);
  if (!st?.isFile()) throw new SkiffError('ENOTFOUND', `the data of secret ${info.Spec.Name} is missing`, { hint: `remove it (secret rm ${info.Spec.Name}) and create it again` });
  return { info, data: await readFile(file) };
}

/** How a container uses one secret (`--secret NAME[,type=mount|env][,target=…][,uid=,gid=,mode=]`). */
export interface SecretUse {
  name: string;
  type: 'mount' | 'env';
  /** mount: the absolute path in the container (default /run/secrets/NAME); env: the variable name (default NAME) */
  target: string;
  uid: number;
  gid: number;
  mode: number;
}

function parseId(v: string, what: string, max: number): number {
  if (!/^\d+$/.test(v) || Number(v) > max) throw new SkiffError('EINVALID', `${what} ${JSON.stringify(v)} is invalid: parsing secret`);
  return Number(v);
}

/**
 * Parses one `--secret` value as podman 4.3 does: `NAME[,type=mount|env][,target=T][,uid=N][,gid=N][,mode=OCTAL]`.
 * A relative mount target lands under /run/secrets; uid, gid and mode are refused for env secrets. EINVALID with
 * podman's wording otherwise. Pure.
 */
export function parseSecretFlag(spec: string): SecretUse {
  const [name = '', ...opts] = spec.split(',');
  if (name === '') throw new SkiffError('EINVALID', `secret name must be specified: parsing secret`);
  let type: 'mount' | 'env' = 'mount';
  let target: string | undefined;
  let uid: number | undefined;
  let gid: number | undefined;
  let mode: number | undefined;
  for (const o of opts) {
    const i = o.indexOf('=');
    const k = i < 0 ? o : o.slice(0, i);
    const v = i < 0 ? '' : o.slice(i + 1);
    if (i < 0) throw new SkiffError('EINVALID', `option ${o} must be in form option=value: parsing secret`);
    if (k === 'type') {
      if (v !== 'mount' && v !== 'env') throw new SkiffError('EINVALID', `type ${v} is invalid: parsing secret`);
      type = v;
    } else if (k === 'target') target = v;
    else if (k === 'uid') uid = parseId(v, 'uid', 0xffffffff);
    else if (k === 'gid') gid = parseId(v, 'gid', 0xffffffff);
    else if (k === 'mode') {
      if (!/^[0-7]{1,4}$/.test(v)) throw new SkiffError('EINVALID', `mode ${JSON.stringify(v)} is invalid: parsing secret`);
      mode = parseInt(v, 8);
    } else throw new SkiffError('EINVALID', `option ${o} invalid: parsing secret`);
  }
  if (type === 'env' && (uid !== undefined || gid !== undefined || mode !== undefined)) throw new SkiffError('EINVALID', 'UID, GID, Mode options cannot be set with secret type env: parsing secret');
  if (type === 'env' && target !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(target)) throw new SkiffError('EINVALID', `target ${JSON.stringify(target)} is not a valid environment variable name: parsing secret`);
  let t = target ?? name;
  if (type === 'mount') {
    if (t === '' || t.split('/').includes('..')) throw new SkiffError('EINVALID', `target ${JSON.stringify(t)} is invalid: parsing secret`);
    t = t.startsWith('/') ? t : `/run/secrets/${t}`;
  }
  return { name, type, target: t, uid: uid ?? 0, gid: gid ?? 0, mode: mode ?? 0o444 };
}

/**
 * Copies `data` (readSecretData's) of a mount-type secret into the container's private `userdata/secrets/` (the container dir is
 * 0700, so the copy is reachable only by the store's owner on the host) with the requested owner and mode, and
 * returns the file to bind-mount read-only at `use.target`. The file is written 0600 and gets its final mode only
 * once complete.
 */
export async function materialiseSecret(userdata: string, use: SecretUse, index: number, data: Uint8Array): Promise<string> {
  const dir = join(userdata, 'secrets');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, `${index}-${validateSecretName(use.name)}`);
  const fh = await open(file, 'wx', 0o600);
  try {
    await fh.writeFile(data);
  } finally {
    await fh.close();
  }
  await chown(file, use.uid, use.gid);
  await chmod(file, use.mode);
  return file;
}
