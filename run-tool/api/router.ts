// The route table of the Docker-compatible API: method + path pattern → handler, on versioned (`/v1.41/…`) and
// unversioned paths; a version older than MIN_API_VERSION is refused as Docker does.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import * as containers from './containers.ts';
import * as exec from './exec.ts';
import { eventsHandler } from './events.ts';
import * as images from './images.ts';
import * as nv from './networks-volumes.ts';
import * as transfer from './image-transfer.ts';
import * as prune from './prune.ts';
import { statsHandler } from './stats.ts';
import { systemDfHandler } from './system-df.ts';
import { buildHandler } from './build.ts';
import { authHandler } from './auth.ts';
import type { ApiRequest, Handler, ServiceContext } from './context.ts';
import { ApiError, sendError, statusOf } from './http-util.ts';
import { closeAfterDrain } from './close-after-drain.ts';
import { MIN_API_VERSION, pingHandler, pingHeaders, infoHandler, versionHandler } from './system.ts';

const P = '([^/]+)';
const routes: [string, RegExp, Handler][] = [
  ['GET', /^\/_ping$/, pingHandler],
  ['HEAD', /^\/_ping$/, pingHandler],
  ['GET', /^\/version$/, versionHandler],
  ['GET', /^\/info$/, infoHandler],
  ['GET', /^\/events$/, eventsHandler],
  ['GET', /^\/system\/df$/, systemDfHandler],
  ['GET', /^\/containers\/json$/, containers.listHandler],
  ['POST', /^\/containers\/prune$/, prune.containerPruneHandler],
  ['GET', new RegExp(`^/containers/${P}/stats$`), statsHandler],
  ['POST', new RegExp(`^/containers/${P}/rename$`), containers.renameHandler],
  ['POST', new RegExp(`^/containers/${P}/resize$`), containers.resizeHandler],
  ['POST', /^\/containers\/create$/, containers.createHandler],
  ['GET', new RegExp(`^/containers/${P}/json$`), containers.inspectHandler],
  ['POST', new RegExp(`^/containers/${P}/start$`), containers.startHandler],
  ['POST', new RegExp(`^/containers/${P}/stop$`), containers.stopHandler],
  ['POST', new RegExp(`^/containers/${P}/restart$`), containers.restartHandler],
  ['POST', new RegExp(`^/containers/${P}/kill$`), containers.killHandler],
  ['POST', new RegExp(`^/containers/${P}/wait$`), containers.waitHandler],
  ['GET', new RegExp(`^/containers/${P}/logs$`), containers.logsHandler],
  ['GET', new RegExp(`^/containers/${P}/top$`), containers.topHandler],
  ['DELETE', new RegExp(`^/containers/${P}$`), containers.removeHandler],
  ['POST', new RegExp(`^/containers/${P}/exec$`), exec.execCreateHandler],
  ['HEAD', new RegExp(`^/containers/${P}/archive$`), containers.archiveHeadHandler],
  ['GET', new RegExp(`^/containers/${P}/archive$`), containers.archiveGetHandler],
  ['PUT', new RegExp(`^/containers/${P}/archive$`), containers.archivePutHandler],
  ['POST', new RegExp(`^/exec/${P}/start$`), exec.execStartHandler],
  ['GET', new RegExp(`^/exec/${P}/json$`), exec.execInspectHandler],
  ['POST', /^\/build$/, buildHandler],
  ['POST', /^\/auth$/, authHandler],
  ['GET', /^\/images\/json$/, images.listHandler],
  ['POST', /^\/images\/prune$/, prune.imagePruneHandler],
  ['GET', /^\/images\/get$/, transfer.getHandler],
  ['POST', /^\/images\/load$/, transfer.loadHandler],
  ['GET', /^\/images\/(.+)\/get$/, transfer.getHandler],
  ['POST', /^\/images\/(.+)\/push$/, transfer.pushHandler],
  ['POST', /^\/images\/create$/, images.createHandler],
  ['GET', /^\/images\/(.+)\/json$/, images.inspectHandler],
  ['POST', /^\/images\/(.+)\/tag$/, images.tagHandler],
  ['DELETE', /^\/images\/(.+)$/, images.removeHandler],
  ['GET', /^\/networks$/, nv.networkListHandler],
  ['POST', /^\/networks\/prune$/, prune.networkPruneHandler],
  ['POST', /^\/networks\/create$/, nv.networkCreateHandler],
  ['GET', new RegExp(`^/networks/${P}$`), nv.networkInspectHandler],
  ['POST', new RegExp(`^/networks/${P}/connect$`), nv.networkConnectHandler],
  ['POST', new RegExp(`^/networks/${P}/disconnect$`), nv.networkDisconnectHandler],
  ['DELETE', new RegExp(`^/networks/${P}$`), nv.networkRemoveHandler],
  ['GET', /^\/volumes$/, nv.volumeListHandler],
  ['POST', /^\/volumes\/create$/, nv.volumeCreateHandler],
  ['POST', /^\/volumes\/prune$/, nv.volumePruneHandler],
  ['GET', new RegExp(`^/volumes/${P}$`), nv.volumeInspectHandler],
  ['DELETE', new RegExp(`^/volumes/${P}$`), nv.volumeRemoveHandler],
];

const versionOk = (v: string): boolean => {
  const [a = 0, b = 0] = v.split('.').map(Number);
  const [ma = 0, mb = 0] = MIN_API_VERSION.split('.').map(Number);
  return a > ma || (a === ma && b >= mb);
};

/** The path without its `/vX.Y` prefix and the query; ApiError 400 for a version below the minimum. Pure. */
export function splitUrl(url: string): { path: string; query: URLSearchParams } {
  const u = new URL(url, 'http://skiff');
  const m = /^\/v([0-9]+\.[0-9]+)(\/.*)$/.exec(u.pathname);
  if (m && !versionOk(m[1]!)) throw new ApiError(400, `client version ${m[1]} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`);
  return { path: m ? m[2]! : u.pathname, query: u.searchParams };
}

function match(method: string, path: string): { handler: Handler; params: string[] } | undefined {
  for (const [m, re, handler] of routes) {
    const hit = m === method ? re.exec(path) : null;
    if (hit) return { handler, params: hit.slice(1).map((p) => decodeURIComponent(p)) };
  }
  return undefined;
}

/** Serves one request: routes it, runs its handler, and turns any failure into Docker's error JSON. */
export async function handleRequest(ctx: ServiceContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const ac = new AbortController();
  res.on('close', () => ac.abort());
  // SKIFF_API_TRACE=1: one stderr line per request, to see what a client asks for
  if (process.env.SKIFF_API_TRACE) process.stderr.write(`${req.method} ${req.url}\n`);
  for (const [k, v] of Object.entries(pingHeaders())) res.setHeader(k, v);
  res.setHeader('Server', `skiff/${ctx.version}`);
  try {
    const { path, query } = splitUrl(req.url ?? '/');
    const hit = match(req.method ?? 'GET', path);
    if (!hit) throw new ApiError(404, `page not found: ${req.method} ${path}`);
    const r: ApiRequest = { ...ctx, req, res, params: hit.params, query, signal: ac.signal };
    await hit.handler(r);
  } catch (e) {
    // a body too large is read no further than a bound: the connection closes once the error is out and the client
    // had its chance to read it (closeAfterDrain); any other is read to its end
    if (statusOf(e) === 413) {
      res.setHeader('Connection', 'close');
      closeAfterDrain(req);
    } else req.resume();
    sendError(res, e);
  }
}

/** Serves an `Upgrade: tcp` request (attach): the connection is handed over raw. */
export async function handleUpgrade(ctx: ServiceContext, req: IncomingMessage, socket: Duplex): Promise<void> {
  try {
    const { path, query } = splitUrl(req.url ?? '/');
    const x = /^\/exec\/([^/]+)\/start$/.exec(path);
    if (req.method === 'POST' && x) {
      req.resume();
      socket.resume();
      return await exec.execStartUpgraded(ctx.root, decodeURIComponent(x[1]!), socket);
    }
    const m = /^\/containers\/([^/]+)\/attach$/.exec(path);
    if (req.method !== 'POST' || !m) throw new ApiError(404, `page not found: ${req.method} ${path}`);
    await containers.attachUpgraded({ ...ctx, req, params: [decodeURIComponent(m[1]!)], query, signal: new AbortController().signal }, socket);
  } catch (e) {
    const msg = JSON.stringify({ message: (e as Error).message });
    if (socket.writable) socket.end(`HTTP/1.1 ${e instanceof ApiError ? e.status : 500} Error\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(msg)}\r\nConnection: close\r\n\r\n${msg}`);
  }
}
