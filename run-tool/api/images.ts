// The Docker API's image endpoints over run-tool/ops: list, inspect, pull (create) with streamed JSON progress,
// tag and delete.
import { isSkiffError, SkiffError } from '../../shared/errors.ts';
import type { RegistryOptions } from '../../shared/registry/types.ts';
import { imageInspect } from '../ops/inspect.ts';
import { listImages } from '../ops/list-images.ts';
import { pullImage } from '../ops/pull-image.ts';
import { removeImage } from '../ops/remove-image.ts';
import { tagImage } from '../ops/tag-image.ts';
import { withApiStore, type ApiRequest } from './context.ts';
import { ApiError, queryBool, sendJson } from './http-util.ts';

async function onImage<T>(r: ApiRequest, name: string, fn: Parameters<typeof withApiStore<T>>[1]): Promise<T> {
  try {
    return await withApiStore(r.root, fn);
  } catch (e) {
    throw isSkiffError(e, 'ENOTFOUND') ? new ApiError(404, `No such image: ${name}`) : e;
  }
}

/** GET /images/json */
export async function listHandler(r: ApiRequest): Promise<void> {
  const list = await withApiStore(r.root, (store) => listImages(store, { signal: r.signal }));
  sendJson(r.res, 200, list.filter((i) => queryBool(r.query, 'all') || !i.dangling || i.names.length > 0).map((i) => ({
    Id: i.id, ParentId: '', RepoTags: i.names.length ? i.names : null, RepoDigests: i.names.map((n) => `${n.replace(/:[^:/]+$/, '')}@${i.digest}`),
    Created: Math.floor((i.created?.getTime() ?? 0) / 1000), Size: i.size, VirtualSize: i.size, SharedSize: -1, Labels: null, Containers: -1,
  })));
}

/** GET /images/{name}/json: skiff's inspect plus the ContainerConfig compose reads. */
export async function inspectHandler(r: ApiRequest): Promise<void> {
  const name = r.params[0]!;
  const { j, names } = await onImage(r, name, async (store) => {
    const j = await imageInspect(store, name);
    // by ID the inspect knows no names: every name of the image, as Docker lists them
    const names = (await listImages(store, { signal: r.signal })).find((i) => i.id === `sha256:${String(j.Id)}`)?.names ?? [];
    return { j, names };
  });
  sendJson(r.res, 200, { ...j, RepoTags: names, Id: `sha256:${String(j.Id)}`, Parent: '', Comment: '', Container: '', ContainerConfig: j.Config, DockerVersion: '', GraphDriver: { Name: 'overlay', Data: null } });
}

/**
 * The registry options of a pull of `image`: credentials from X-Registry-Auth (base64url JSON with username and
 * password), and plain HTTP allowed for a registry on the loopback (127.0.0.0/8, ::1, localhost), which Docker's
 * engine treats as insecure by default; any other host as registries.conf says. EINVALID for a header that is not
 * such JSON. Pure.
 */
export function pullRegistryOptions(image: string, authHeader: string | undefined): RegistryOptions {
  const out: RegistryOptions = {};
  if (authHeader) {
    let a: { username?: unknown; password?: unknown };
    try {
      a = JSON.parse(Buffer.from(authHeader, 'base64url').toString('utf8')) as typeof a;
    } catch {
      throw new SkiffError('EINVALID', 'invalid X-Registry-Auth header: want base64url-encoded JSON with username and password');
    }
    if (typeof a.username === 'string' && a.username !== '' && typeof a.password === 'string') out.credentials = { username: a.username, password: a.password };
  }
  const first = image.split('/')[0] ?? '';
  if (image.includes('/') && /^(127\.[0-9]+\.[0-9]+\.[0-9]+|\[::1\]|localhost)(:[0-9]+)?$/.test(first)) out.tlsVerify = false;
  return out;
}

/**
 * POST /images/create?fromImage=&tag=: pulls, streaming Docker's JSON progress lines; a failed pull after the
 * 200 went out is an `{"error": …}` line, as Docker's.
 */
export async function createHandler(r: ApiRequest): Promise<void> {
  const from = r.query.get('fromImage');
  if (!from) throw new ApiError(400, 'fromImage is required: name the image to pull (fromSrc imports are not supported)');
  const tag = r.query.get('tag');
  const image = tag && !from.includes('@') && !/:[^/]+$/.test(from) ? `${from}${tag.startsWith('sha256:') ? '@' : ':'}${tag}` : from;
  const registry = pullRegistryOptions(image, r.req.headers['x-registry-auth'] as string | undefined);
  r.res.writeHead(200, { 'Content-Type': 'application/json' });
  const line = (o: unknown): void => void r.res.write(`${JSON.stringify(o)}\r\n`);
  line({ status: `Pulling from ${image}`, id: tag ?? 'latest' });
  try {
    const got = await pullImage(r.root, image, { registry, signal: r.signal, log: (l) => line({ status: l }) });
    line({ status: `Digest: ${got.id}` });
    line({ status: `Status: Downloaded newer image for ${got.name ?? image}` });
  } catch (e) {
    const msg = (e as Error).message;
    line({ errorDetail: { message: msg }, error: msg });
  }
  r.res.end();
}

/** POST /images/{name}/tag?repo=&tag= */
export async function tagHandler(r: ApiRequest): Promise<void> {
  const name = r.params[0]!;
  const repo = r.query.get('repo');
  if (!repo) throw new ApiError(400, 'repo is required: name the repository to tag the image into');
  const tag = r.query.get('tag') || 'latest';
  await onImage(r, name, (store) => tagImage(store, name, [`${repo}:${tag}`], { signal: r.signal }));
  r.res.writeHead(201).end();
}

/** DELETE /images/{name}?force= */
export async function removeHandler(r: ApiRequest): Promise<void> {
  const name = r.params[0]!;
  const lines = await onImage(r, name, (store) => removeImage(r.root, store, name, { force: queryBool(r.query, 'force'), signal: r.signal }));
  sendJson(r.res, 200, lines.map((l) => ({ [l.kind]: l.value })));
}
