// The Docker API's image transfer endpoints: push to a registry (streamed JSON progress, X-Registry-Auth), and the
// docker save/load archives (GET /images/get, GET /images/{name}/get, POST /images/load) over run-tool/ops'
// save and load. An archive is spooled in a private temp dir under the store (removed after), so what a client
// receives or what the store commits is always a whole, verified archive.
import { createReadStream } from 'node:fs';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { isSkiffError } from '../../shared/errors.ts';
import { storePaths } from '../../shared/store/paths.ts';
import { loadImages } from '../ops/load-images.ts';
import { pushImage } from '../ops/push-image.ts';
import { saveImage } from '../ops/save-image.ts';
import type { ApiRequest } from './context.ts';
import { ApiError, spoolBody } from './http-util.ts';
import { pullRegistryOptions } from './images.ts';


async function withSpool<T>(root: string, fn: (file: string) => Promise<T>): Promise<T> {
  const base = storePaths(root).tmp;
  await mkdir(base, { recursive: true, mode: 0o700 });
  const dir = await mkdtemp(join(base, 'api-archive-'));
  try {
    return await fn(join(dir, 'image.tar'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * POST /images/{name}/push?tag=: pushes and streams Docker's JSON lines (a status per layer, then the digest line
 * and the aux record docker's CLI prints); a failure after the 200 is an `{"error": …}` line, as Docker's.
 */
export async function pushHandler(r: ApiRequest): Promise<void> {
  const repo = r.params[0]!;
  const tag = r.query.get('tag');
  const image = tag && !/:[^/]+$/.test(repo) ? `${repo}:${tag}` : repo;
  const registry = pullRegistryOptions(image, r.req.headers['x-registry-auth'] as string | undefined);
  r.res.writeHead(200, { 'Content-Type': 'application/json' });
  const line = (o: unknown): void => void r.res.write(`${JSON.stringify(o)}\r\n`);
  line({ status: `The push refers to repository [${image.replace(/:[^:/]+$/, '')}]` });
  try {
    const got = await pushImage(r.root, image, undefined, {
      registry, signal: r.signal,
      onProgress: (e) => {
        const id = e.digest?.replace(/^sha256:/, '').slice(0, 12);
        if (e.kind === 'blob-start') line({ status: 'Preparing', progressDetail: {}, id });
        else if (e.kind === 'blob-done') line({ status: 'Pushed', progressDetail: {}, id });
        else if (e.kind === 'blob-skip') line({ status: e.reason === 'mounted' ? 'Mounted from another repository' : 'Layer already exists', progressDetail: {}, id });
      },
    });
    const t = /:([^:/]+)$/.exec(image)?.[1] ?? 'latest';
    line({ status: `${t}: digest: ${got.digest} size: ${got.size}` });
    line({ progressDetail: {}, aux: { Tag: t, Digest: got.digest, Size: got.size } });
  } catch (e) {
    const msg = isSkiffError(e, 'ENOTFOUND') && /image/i.test(e.message) ? `An image does not exist locally with the tag: ${image}` : (e as Error).message;
    line({ errorDetail: { message: msg }, error: msg });
  }
  r.res.end();
}

/** GET /images/get?names=NAME and GET /images/{name}/get: a docker-archive tar of one image (docker save). */
export async function getHandler(r: ApiRequest): Promise<void> {
  const names = r.params[0] !== undefined ? [r.params[0]] : r.query.getAll('names');
  if (names.length === 0) throw new ApiError(400, 'names is required: name the image to export');
  if (names.length > 1) throw new ApiError(400, 'exporting several images into one archive is not supported: export them one at a time');
  const name = names[0]!;
  await withSpool(r.root, async (file) => {
    try {
      await saveImage(r.root, name, file, 'docker-archive', { signal: r.signal });
    } catch (e) {
      throw isSkiffError(e, 'ENOTFOUND') ? new ApiError(404, `No such image: ${name}`) : e;
    }
    r.res.writeHead(200, { 'Content-Type': 'application/x-tar' });
    await pipeline(createReadStream(file), r.res, { signal: r.signal });
  });
}

/**
 * POST /images/load: a docker-archive or oci-archive body of at most `maxLoadBytes` (413 past it; a cut upload stores
 * nothing: the spool is read whole before anything is loaded), committed image by image once each is stored and
 * verified; replies Docker's `{"stream": "Loaded image: NAME\n"}` lines (a bad archive is a 400 before any).
 */
export async function loadHandler(r: ApiRequest): Promise<void> {
  const loaded = await withSpool(r.root, async (file) => {
    await spoolBody(r.req, file, r.maxLoadBytes, r.signal);
    try {
      return await loadImages(r.root, file, { signal: r.signal });
    } catch (e) {
      throw isSkiffError(e) && e.code !== 'EIO' ? new ApiError(400, `invalid image archive: ${e.message}`) : e;
    }
  });
  const text = loaded.map((n) => JSON.stringify({ stream: `${n.startsWith('sha256:') ? 'Loaded image ID' : 'Loaded image'}: ${n}\n` })).join('\n');
  r.res.writeHead(200, { 'Content-Type': 'application/json' });
  // `quiet` only silences progress in Docker, and there is none: the Loaded lines always go out (the CLI prints them)
  r.res.end(`${text}\n`);
}
