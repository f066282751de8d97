// The Docker API's exec endpoints: create a session (its settings, kept by this service until started and
// inspected), start it on a hijacked or plain connection with its output as multiplexed frames, inspect its exit
// code. The process itself runs through run-tool's exec operation.
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { SkiffError } from '../../shared/errors.ts';
import { execInContainer } from '../ops/exec-container.ts';
import { withApiStore, type ApiRequest } from './context.ts';
import { ApiError, readJson, rejectUnknownFields, sendJson } from './http-util.ts';

interface ExecSession {
  id: string;
  container: string;
  cmd: string[];
  env: string[];
  user?: string;
  workdir?: string;
  tty: boolean;
  running: boolean;
  exitCode: number | null;
}

/** Sessions not yet started or inspected; the oldest go first past MAX_SESSIONS. */
const sessions = new Map<string, ExecSession>();
const MAX_SESSIONS = 1000;

const EXEC_FIELDS = new Set(['Container', 'Detach', 'AttachStdin', 'AttachStdout', 'AttachStderr', 'DetachKeys', 'Tty', 'Env', 'Cmd', 'Privileged', 'User', 'WorkingDir', 'ConsoleSize']);

/** POST /containers/{id}/exec */
export async function execCreateHandler(r: ApiRequest): Promise<void> {
  const b = await readJson(r.req);
  rejectUnknownFields(b, EXEC_FIELDS, 'the exec create body');
  if (!Array.isArray(b.Cmd) || b.Cmd.length === 0 || !b.Cmd.every((x) => typeof x === 'string')) throw new SkiffError('EINVALID', 'Cmd is required: a non-empty list of strings');
  if (b.Privileged === true) throw new SkiffError('EINVALID', 'Privileged exec sessions are not supported by skiff');
  const name = r.params[0]!;
  const running = await withApiStore(r.root, async (store) => {
    const { listContainers } = await import('../ops/list-containers.ts');
    return (await listContainers(store, { all: true })).find((c) => c.record.id === name || c.record.name === name || (name.length >= 3 && c.record.id.startsWith(name)));
  });
  if (!running) throw new ApiError(404, `No such container: ${name}`);
  if (running.state.status !== 'running') throw new ApiError(409, `Container ${running.record.id} is not running`);
  const id = randomBytes(32).toString('hex');
  sessions.set(id, { id, container: running.record.id, cmd: b.Cmd as string[], env: Array.isArray(b.Env) ? (b.Env as string[]) : [], ...(typeof b.User === 'string' && b.User && { user: b.User }), ...(typeof b.WorkingDir === 'string' && b.WorkingDir && { workdir: b.WorkingDir }), tty: b.Tty === true, running: false, exitCode: null });
  while (sessions.size > MAX_SESSIONS) sessions.delete(sessions.keys().next().value!);
  sendJson(r.res, 201, { Id: id });
}

function session(id: string): ExecSession {
  const s = sessions.get(id);
  if (!s) throw new ApiError(404, `No such exec instance: ${id}`);
  return s;
}

function frame(stream: 1 | 2, b: Buffer, tty: boolean): Buffer {
  if (tty) return b;
  const head = Buffer.alloc(8);
  head[0] = stream;
  head.writeUInt32BE(b.length, 4);
  return Buffer.concat([head, b]);
}

async function run(root: string, s: ExecSession, write: (b: Buffer) => void): Promise<void> {
  s.running = true;
  try {
    const r = await withApiStore(root, (store) => execInContainer(store, s.container, s.cmd, {
      env: s.env, ...(s.user && { user: s.user }), ...(s.workdir && { workdir: s.workdir }),
      onStdout: (b) => write(frame(1, b, s.tty)), onStderr: (b) => write(frame(2, b, s.tty)),
    }));
    s.exitCode = 'exitCode' in r ? r.exitCode : 0;
  } catch (e) {
    s.exitCode = 126;
    write(frame(2, Buffer.from(`${(e as Error).message}\n`), s.tty));
  } finally {
    s.running = false;
  }
}

/** POST /exec/{id}/start on a plain connection: the output is the response body. */
export async function execStartHandler(r: ApiRequest): Promise<void> {
  const s = session(r.params[0]!);
  await readJson(r.req);
  r.res.writeHead(200, { 'Content-Type': `application/vnd.docker.${s.tty ? 'raw' : 'multiplexed'}-stream` });
  await run(r.root, s, (b) => void r.res.write(b));
  r.res.end();
}

/** POST /exec/{id}/start with `Upgrade: tcp`: the output goes over the hijacked connection, which then closes. */
export async function execStartUpgraded(root: string, id: string, socket: Duplex): Promise<void> {
  const s = session(id);
  socket.write(`HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.${s.tty ? 'raw' : 'multiplexed'}-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`);
  await run(root, s, (b) => void socket.write(b));
  socket.end();
}

/** GET /exec/{id}/json */
export async function execInspectHandler(r: ApiRequest): Promise<void> {
  const s = session(r.params[0]!);
  sendJson(r.res, 200, { ID: s.id, ContainerID: s.container, Running: s.running, ExitCode: s.exitCode, OpenStdin: false, OpenStdout: true, OpenStderr: true, ProcessConfig: { entrypoint: s.cmd[0], arguments: s.cmd.slice(1), tty: s.tty, user: s.user ?? '' }, Pid: 0 });
}
