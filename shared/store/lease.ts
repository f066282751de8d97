import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { SkiffError, throwIfAborted, type Cancellable } from '../errors.ts';
import { parseDigest, type Digest } from '../oci/digest.ts';
import { writeFileAtomic } from './atomic.ts';
import { isSessionAlive, sessionFor } from './session.ts';

/** Where leases live and where the session locks that keep process leases alive are. */
export interface LeasePaths {
  leases: string;
  tmp: string;
}

/** What a lease file holds. */
export interface LeaseInfo {
  id: string;
  owner: string;
  /** Process leases name the session whose lock keeps them alive; persistent leases have none. */
  session?: string;
  persistent: boolean;
  created: string;
  digests: Digest[];
}

const LEASE_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

function leaseFile(paths: LeasePaths, id: string): string {
  if (!LEASE_ID_RE.test(id)) throw new SkiffError('EINVALID', `invalid lease id ${JSON.stringify(id)}: use letters, digits, '.', '_' and '-'`);
  return join(paths.leases, `${id}.json`);
}

/**
 * A set of digests that gc must keep. Process leases live as long as their session lock is held (the
 * process is alive); persistent leases (e.g. a container's image) live until released explicitly.
 *
 * Race rule (LS-13): add() must run while the caller holds the store's SHARED gc lock, and the caller must
 * add a digest BEFORE it checks whether the blob exists or commits it — gc holds the lock exclusively while
 * it reads leases, marks and sweeps, so a digest is either leased before gc looks, or gc has finished
 * sweeping before the writer checks. Store.protect() does this for you.
 */
export class Lease {
  readonly #file: string;
  readonly #info: LeaseInfo;
  readonly #digests: Set<Digest>;

  constructor(paths: LeasePaths, info: LeaseInfo) {
    this.#file = leaseFile(paths, info.id);
    this.#info = info;
    this.#digests = new Set(info.digests);
  }

  get id(): string {
    return this.#info.id;
  }
  get owner(): string {
    return this.#info.owner;
  }
  get persistent(): boolean {
    return this.#info.persistent;
  }
  /** The digests currently leased. */
  get digests(): ReadonlySet<Digest> {
    return this.#digests;
  }

  async #write(): Promise<void> {
    const info: LeaseInfo = { ...this.#info, digests: [...this.#digests] };
    await writeFileAtomic(this.#file, JSON.stringify(info), 0o600);
  }

  /** Adds digests durably (atomic rewrite of the lease file). Call under the shared gc lock. Idempotent. */
  async add(digests: Iterable<string>, o: Cancellable = {}): Promise<void> {
    throwIfAborted(o.signal);
    let changed = false;
    for (const d of digests) {
      const dg = parseDigest(d);
      if (!this.#digests.has(dg)) {
        this.#digests.add(dg);
        changed = true;
      }
    }
    if (changed) await this.#write();
  }

  /** Drops digests from the lease (they become collectable unless referenced elsewhere). */
  async remove(digests: Iterable<string>): Promise<void> {
    let changed = false;
    for (const d of digests) changed = this.#digests.delete(d as Digest) || changed;
    if (changed) await this.#write();
  }

  /** Deletes the lease; its digests become collectable unless referenced elsewhere. Idempotent. */
  async release(): Promise<void> {
    this.#digests.clear();
    await unlink(this.#file).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
  }
}

/**
 * Creates a lease. A process lease (default) starts this process's session (its owner lock) first, so
 * the lease is never visible without a live lock behind it. A persistent lease takes an explicit `id`
 * (e.g. `container-<id>`); re-creating an existing persistent id replaces it. Call under the shared gc lock
 * when `digests` is not empty (see Lease).
 */
export async function createLease(
  paths: LeasePaths,
  digests: Iterable<string>,
  o: { owner: string; persistent?: boolean; id?: string; signal?: AbortSignal },
): Promise<Lease> {
  throwIfAborted(o.signal);
  await mkdir(paths.leases, { recursive: true, mode: 0o700 });
  const persistent = o.persistent === true;
  let session: string | undefined;
  if (!persistent) {
    const s = sessionFor(paths.tmp);
    await s.dir(o.signal ? { signal: o.signal } : {});
    session = s.id;
  }
  const id = o.id ?? `${persistent ? 'p' : session}-${randomBytes(6).toString('hex')}`;
  const info: LeaseInfo = {
    id,
    owner: o.owner,
    persistent,
    created: new Date().toISOString(),
    digests: [...new Set([...digests].map((d) => parseDigest(d)))],
    ...(session ? { session } : {}),
  };
  const lease = new Lease(paths, info);
  await writeFileAtomic(leaseFile(paths, id), JSON.stringify(info), 0o600);
  return lease;
}

function parseLeaseInfo(text: string, file: string): LeaseInfo {
  let x: unknown;
  try {
    x = JSON.parse(text);
  } catch (e) {
    throw new SkiffError('ELAYOUT', `lease ${file} is not valid JSON`, { cause: e });
  }
  const o = x as Partial<LeaseInfo> | null;
  if (!o || typeof o !== 'object' || typeof o.id !== 'string' || !Array.isArray(o.digests) || typeof o.persistent !== 'boolean') {
    throw new SkiffError('ELAYOUT', `lease ${file} is malformed`, { hint: 'remove the file if the lease is no longer needed' });
  }
  return {
    id: o.id,
    owner: typeof o.owner === 'string' ? o.owner : '',
    persistent: o.persistent,
    created: typeof o.created === 'string' ? o.created : '',
    digests: o.digests.map((d) => parseDigest(d, `digest in lease ${file}`)),
    ...(typeof o.session === 'string' ? { session: o.session } : {}),
  };
}

/** Opens an existing lease by id (ENOTFOUND when absent), e.g. to release a container's persistent lease. */
export async function openLease(paths: LeasePaths, id: string): Promise<Lease> {
  const file = leaseFile(paths, id);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new SkiffError('ENOTFOUND', `lease ${id} not found`);
    throw e;
  }
  return new Lease(paths, parseLeaseInfo(text, file));
}

/** All lease files (live or not). */
export async function listLeases(paths: LeasePaths): Promise<LeaseInfo[]> {
  let names: string[];
  try {
    names = await readdir(paths.leases);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const out: LeaseInfo[] = [];
  for (const n of names) {
    if (!n.endsWith('.json') || !LEASE_ID_RE.test(n.slice(0, -5))) continue;
    const file = join(paths.leases, n);
    try {
      out.push(parseLeaseInfo(await readFile(file, 'utf8'), file));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // released meanwhile
      throw e;
    }
  }
  return out;
}

/**
 * The digests held by live leases: persistent ones, and process leases whose session lock is held.
 * Leases of dead processes are deleted (their session lock is free, and a session takes its lock before
 * writing any lease, so a free lock means the owner is gone). Call under the exclusive gc lock.
 */
export async function collectLeasedDigests(paths: LeasePaths, o: Cancellable = {}): Promise<{ digests: Set<Digest>; dropped: string[] }> {
  const digests = new Set<Digest>();
  const dropped: string[] = [];
  const alive = new Map<string, boolean>();
  for (const l of await listLeases(paths)) {
    throwIfAborted(o.signal);
    let keep = l.persistent;
    if (!keep && l.session !== undefined) {
      let a = alive.get(l.session);
      if (a === undefined) alive.set(l.session, (a = await isSessionAlive(paths.tmp, l.session)));
      keep = a;
    }
    if (keep) for (const d of l.digests) digests.add(d);
    else {
      await unlink(leaseFile(paths, l.id)).catch(() => {});
      dropped.push(l.id);
    }
  }
  return { digests, dropped };
}
