// The Docker API's `/events` stream for containers. The service keeps no event log (it holds no state the store
// does not hold), so it reports what it sees change in the store while the client listens: create, start, die,
// destroy — enough for docker-compose's `up`/`logs` and `docker events`. Past events (`since`) are not replayed.
import { setTimeout as sleep } from 'node:timers/promises';
import type { LoadedContainer } from '../containers/state.ts';
import { listContainers, matchFilter } from '../ops/list-containers.ts';
import { withApiStore, type ApiRequest } from './context.ts';
import { dockerFilters } from './http-util.ts';

/** How often the store is looked at for changes. */
const POLL_MS = 250;

/** Docker's event JSON of `action` on container `c` at `now` (ms). Pure. */
export function containerEvent(c: LoadedContainer, action: string, now: number): Record<string, unknown> {
  const attrs = { ...c.record.config.labels, image: c.record.image.name, name: c.record.name, ...(action === 'die' && { exitCode: String(c.state.exitCode) }) };
  return { status: action, id: c.record.id, from: c.record.image.name, Type: 'container', Action: action, Actor: { ID: c.record.id, Attributes: attrs }, scope: 'local', time: Math.floor(now / 1000), timeNano: now * 1e6 };
}

/** The events between two looks at the containers (by ID). Pure. */
export function diffContainers(before: Map<string, LoadedContainer>, after: Map<string, LoadedContainer>): [LoadedContainer, string][] {
  const out: [LoadedContainer, string][] = [];
  const running = (c: LoadedContainer): boolean => c.state.status === 'running' || c.state.status === 'stopping';
  for (const [id, c] of after) {
    const was = before.get(id);
    if (!was) out.push([c, 'create']);
    if (running(c) && (!was || !running(was) || was.state.startedAt !== c.state.startedAt)) out.push([c, 'start']);
    if (was && !running(c) && (running(was) || was.state.finishedAt !== c.state.finishedAt)) out.push([c, 'die']);
  }
  for (const [id, c] of before) if (!after.has(id)) out.push([c, 'destroy']);
  return out;
}

/** GET /events (filters: label, container, event, type; until): streams until the client leaves or `until`. */
export async function eventsHandler(r: ApiRequest): Promise<void> {
  const filters = dockerFilters(r.query);
  const labelAndName = filters.filter((f) => f.startsWith('label=') || f.startsWith('name='));
  const containers = filters.filter((f) => f.startsWith('container=')).map((f) => f.slice('container='.length));
  const actions = filters.filter((f) => f.startsWith('event=')).map((f) => f.slice('event='.length));
  const types = filters.filter((f) => f.startsWith('type=')).map((f) => f.slice('type='.length));
  const until = Number(r.query.get('until') ?? '0') * 1000;
  const keep = (c: LoadedContainer, action: string): boolean =>
    (types.length === 0 || types.includes('container')) && (actions.length === 0 || actions.includes(action)) &&
    (containers.length === 0 || containers.some((x) => c.record.id.startsWith(x) || c.record.name === x)) && matchFilter(c, labelAndName);
  const look = async (): Promise<Map<string, LoadedContainer>> =>
    new Map((await withApiStore(r.root, (store) => listContainers(store, { all: true }))).map((c) => [c.record.id, c]));
  let before = await look();
  r.res.writeHead(200, { 'Content-Type': 'application/json' });
  r.res.flushHeaders();
  while (!r.signal.aborted && (!until || Date.now() < until)) {
    await sleep(POLL_MS, undefined, { signal: r.signal }).catch(() => {});
    if (r.signal.aborted) break;
    const after = await look();
    for (const [c, action] of diffContainers(before, after)) if (keep(c, action)) r.res.write(`${JSON.stringify(containerEvent(c, action, Date.now()))}\n`);
    before = after;
  }
  r.res.end();
}
