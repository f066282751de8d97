// The Docker API's `/events`: the store's event log (ops/events.ts) in Docker's shape. `since` replays logged
// events from that time, then the stream follows the log until the client leaves or `until` passes; with `until`
// in the past it ends after the replay. Every operation of every front end writes the log, so the stream shows
// what the CLI does too, with the exit code a container died with.
import { isSkiffError } from '../../shared/errors.ts';
import { checkEventQuery, listEvents, type StoreEvent } from '../ops/events.ts';
import type { ApiRequest } from './context.ts';
import { dockerFilters, sendError } from './http-util.ts';

/** podman's statuses as Docker names the actions. */
const DOCKER_ACTION: Record<string, string> = { died: 'die', remove: 'destroy' };
/** The filter keys both Docker and the event log know. */
const FILTER_KEYS = new Set(['container', 'event', 'image', 'label', 'type', 'volume', 'network', 'pod']);

/** Docker's event JSON for a logged event. Pure. */
export function dockerEvent(e: StoreEvent): Record<string, unknown> {
  const action = DOCKER_ACTION[e.Status] ?? e.Status;
  const ns = BigInt(Date.parse(e.Time)) * 1_000_000n + BigInt(Number((/\.\d{3}(\d{0,6})/.exec(e.Time)?.[1] ?? '').padEnd(6, '0')));
  const attrs: Record<string, string> = e.Type === 'container'
    ? { ...e.Attributes, image: e.Image ?? '', name: e.Name, ...(e.ContainerExitCode !== undefined && { exitCode: String(e.ContainerExitCode) }) }
    : { name: e.Name };
  const id = e.ID ?? e.Name;
  return {
    ...(e.Type === 'container' && { status: action, id, from: e.Image ?? '' }),
    Type: e.Type, Action: action, Actor: { ID: id, Attributes: attrs }, scope: 'local',
    time: Math.floor(Date.parse(e.Time) / 1000), timeNano: Number(ns),
  };
}

/** GET /events (filters: container, event, image, label, type, volume, network; since; until). */
export async function eventsHandler(r: ApiRequest): Promise<void> {
  const filters = dockerFilters(r.query).filter((f) => FILTER_KEYS.has(f.slice(0, f.indexOf('='))));
  const since = r.query.get('since') || undefined;
  const until = r.query.get('until') || undefined;
  let started = false;
  const begin = (): void => {
    if (started) return;
    started = true;
    r.res.writeHead(200, { 'Content-Type': 'application/json' });
    r.res.flushHeaders();
  };
  try {
    const q = { filters, ...(since !== undefined && { since }), ...(until !== undefined && { until }), stream: true, signal: r.signal };
    checkEventQuery(q); // bad filters or times fail before the 200 goes out
    begin();
    await listEvents(r.root, q, (e) => {
      if (!r.res.writableEnded) r.res.write(`${JSON.stringify(dockerEvent(e))}\n`);
    });
  } catch (e) {
    if (!started && isSkiffError(e)) return sendError(r.res, e);
    throw e;
  }
  r.res.end();
}
