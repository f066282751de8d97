// POST /build: a tar context (plain or compressed) in, Docker's streamed JSON out. The context is unpacked, confined,
// into a private temp dir under the store; the build itself is build-tool's (run as its own process: one tool never
// imports another), its progress lines relayed as `{"stream": …}`, then the aux ID and "Successfully built/tagged"
// lines docker's CLI, docker-compose and python3-docker read the result from. A failure after the 200 is an
// `{"error": …}` line, as Docker's; the client going away kills the build.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { applyLayer } from '../../shared/layer/apply.ts';
import { runProgram } from '../../shared/process/run.ts';
import { decompress } from '../../shared/layer/compression.ts';
import { storePaths } from '../../shared/store/paths.ts';
import { selfCommand } from '../containers/runc-handle.ts';
import type { ApiRequest } from './context.ts';
import { ApiError, queryBool } from './http-util.ts';

/** build-tool's script: $SKIFF_BUILD_TOOL_SCRIPT, else build-tool.mjs beside run-tool's own script. */
export function buildToolScript(): string {
  return process.env.SKIFF_BUILD_TOOL_SCRIPT ?? join(dirname(selfCommand()[1]!), 'build-tool.mjs');
}

function jsonObject(q: URLSearchParams, name: string): Record<string, string> {
  const raw = q.get(name);
  if (!raw) return {};
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw new ApiError(400, `invalid ${name} ${JSON.stringify(raw)}: want a JSON object of strings`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ApiError(400, `invalid ${name}: want a JSON object of strings`);
  return Object.fromEntries(Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== null).map(([k, x]) => [k, String(x)]));
}

/**
 * build-tool's arguments for Docker's /build query (dockerfile, t, buildargs, labels, target, nocache, pull,
 * networkmode, platform); EINVALID-worthy ApiError 400 for what it cannot honour (remote contexts, a Dockerfile
 * path outside the context). Pure.
 */
export function buildArgs(q: URLSearchParams, root: string, contextDir: string): string[] {
  if (q.get('remote')) throw new ApiError(400, 'remote build contexts are not supported: send the context as a tar body');
  const dockerfile = q.get('dockerfile') || 'Dockerfile';
  if (dockerfile.split('/').includes('..') || dockerfile.startsWith('/')) throw new ApiError(400, `dockerfile ${JSON.stringify(dockerfile)} must be a path inside the build context`);
  const args = ['--root', root, 'build', '--progress', 'plain', '-f', join(contextDir, dockerfile)];
  for (const t of q.getAll('t')) args.push('-t', t);
  for (const [k, v] of Object.entries(jsonObject(q, 'buildargs'))) args.push('--build-arg', `${k}=${v}`);
  for (const [k, v] of Object.entries(jsonObject(q, 'labels'))) args.push('--label', `${k}=${v}`);
  const target = q.get('target');
  if (target) args.push('--target', target);
  if (queryBool(q, 'nocache')) args.push('--no-cache');
  if (queryBool(q, 'pull')) args.push('--pull', 'always');
  const net = q.get('networkmode');
  if (net && net !== 'default') args.push('--network', net === 'bridge' ? 'private' : net);
  const platform = q.get('platform');
  if (platform) args.push('--platform', platform);
  return [...args, contextDir];
}

/** POST /build */
export async function buildHandler(r: ApiRequest): Promise<void> {
  const base = storePaths(r.root).tmp;
  await mkdir(base, { recursive: true, mode: 0o700 });
  const dir = await mkdtemp(join(base, 'api-build-'));
  try {
    const ctx = join(dir, 'context');
    await mkdir(ctx, { mode: 0o700 });
    try {
      const { stream } = await decompress(r.req, { signal: r.signal });
      await applyLayer(ctx, stream, { devices: 'skip', preserveOwnership: false, signal: r.signal });
    } catch (e) {
      if (r.signal.aborted) throw e;
      throw new ApiError(400, `invalid build context: ${(e as Error).message}: send a tar archive of the context directory`);
    }
    const args = buildArgs(r.query, r.root, ctx);
    r.res.writeHead(200, { 'Content-Type': 'application/json' });
    const line = (o: unknown): void => void r.res.write(`${JSON.stringify(o)}\r\n`);
    const quiet = queryBool(r.query, 'q');
    let lastErr = '';
    let code: number;
    let out: string;
    try {
      // the build's progress lines are relayed as they come; the client going away aborts (kills) the build
      ({ code, stdout: out } = await runProgram(process.execPath, [buildToolScript(), ...args], {
        signal: r.signal,
        onStderrLine: (l) => {
          if (l.startsWith('Error: ')) lastErr = l.slice('Error: '.length);
          else if (!quiet) line({ stream: `${l}\n` });
        },
      }));
    } catch (e) {
      // after the 200 a failure is an error line, as Docker's
      if (!r.signal.aborted) line({ errorDetail: { message: (e as Error).message }, error: (e as Error).message });
      return void r.res.end();
    }
    const id = out.trim().split('\n').pop() ?? '';
    if (code !== 0 || !/^[0-9a-f]{64}$/.test(id)) {
      const msg = lastErr || `the build failed (exit status ${code})`;
      line({ errorDetail: { message: msg }, error: msg });
    } else {
      line({ aux: { ID: `sha256:${id}` } });
      // quiet (`docker build -q`): the ID alone, as Docker's
      if (quiet) line({ stream: `sha256:${id}\n` });
      else {
        line({ stream: `Successfully built ${id.slice(0, 12)}\n` });
        for (const t of r.query.getAll('t')) line({ stream: `Successfully tagged ${/:[^/]+$/.test(t) ? t : `${t}:latest`}\n` });
      }
    }
    r.res.end();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
