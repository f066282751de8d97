// The events operation (podman's `events`, the API's /events): the store's event log read back, filtered by
// podman's filter keys and a time window, optionally followed as it grows.
import { SkiffError } from '../../shared/errors.ts';
import { followEvents, readEvents } from '../../shared/store/event-log.ts';
import { parseInputTime } from '../../shared/time/input-time.ts';
import { containersConf } from '../../shared/config/containers-conf.ts';
import { eventsBackend } from '../../shared/config/events-logger.ts';
import type { StoreEvent } from '../containers/record-event.ts';

export type { StoreEvent } from '../containers/record-event.ts';

/** Filter keys podman's `events --filter` takes. */
const FILTER_KEYS = new Set(['container', 'event', 'image', 'label', 'pod', 'type', 'volume', 'network', 'since', 'until']);
const TYPES = new Set(['container', 'image', 'pod', 'volume', 'network', 'system']);
/** Docker's spelling of podman's statuses. */
const ALIASES: Record<string, string> = { die: 'died', destroy: 'remove', delete: 'remove' };

/** Turns a `since`/`until` text into ms since the epoch (EINVALID naming `what` otherwise). */
export type TimeParser = (s: string, what: string) => number;

/** The Docker API's time forms: Unix seconds (with a fraction) or an RFC 3339 date, no durations (parseInputTime). */
export const parseEventTime: TimeParser = (s, what) => parseInputTime(s, what, { durations: false });

/** A parsed set of event filters: values of one key are OR'ed, different keys AND'ed (docker's rule). */
export type EventFilters = Map<string, string[]>;

/** Parses `key=value` filter strings; EINVALID naming an unknown key or type, as one line. Pure. */
export function parseEventFilters(list: readonly string[]): EventFilters {
  const out: EventFilters = new Map();
  for (const f of list) {
    const eq = f.indexOf('=');
    if (eq <= 0) throw new SkiffError('EINVALID', `invalid filter ${JSON.stringify(f)}: want KEY=VALUE`, { hint: 'filters: container, event, image, label, pod, type, volume, network, since, until' });
    const key = f.slice(0, eq);
    let value = f.slice(eq + 1);
    if (!FILTER_KEYS.has(key)) throw new SkiffError('EINVALID', `${key} is an invalid filter`, { hint: 'filters: container, event, image, label, pod, type, volume, network, since, until' });
    if (key === 'type' && !TYPES.has(value)) throw new SkiffError('EINVALID', `${value} is an invalid event type`, { hint: 'types: container, image, pod, volume, network, system' });
    if (key === 'event') value = ALIASES[value] ?? value;
    out.set(key, [...(out.get(key) ?? []), value]);
  }
  return out;
}

/** True when `e` passes every filter key (`since`/`until` values read by `parseTime`). Pure. */
export function matchEvent(e: StoreEvent, filters: EventFilters, parseTime: TimeParser = parseEventTime): boolean {
  for (const [key, values] of filters) {
    const ok = values.some((v) => {
      switch (key) {
        case 'container': return e.Type === 'container' && (e.Name === v || (e.ID ?? '').startsWith(v));
        case 'event': return e.Status === v;
        case 'image': return e.Type === 'image' ? e.Name === v || (e.ID ?? '').startsWith(v) : e.Image === v || e.Image?.split(':')[0] === v;
        case 'label': {
          const eq = v.indexOf('=');
          const attrs = e.Attributes ?? {};
          return eq < 0 ? v in attrs : attrs[v.slice(0, eq)] === v.slice(eq + 1);
        }
        case 'pod': return e.Type === 'pod' && (e.Name === v || (e.ID ?? '').startsWith(v));
        case 'type': return e.Type === v;
        case 'volume': return e.Type === 'volume' && e.Name === v;
        case 'network': return e.Type === 'network' && (e.Name === v || (e.ID ?? '').startsWith(v));
        case 'since': return Date.parse(e.Time) >= parseTime(v, 'since filter');
        case 'until': return Date.parse(e.Time) <= parseTime(v, 'until filter');
        default: return false;
      }
    });
    if (!ok) return false;
  }
  return true;
}

/** What listEvents reads. */
export interface EventQuery {
  filters?: readonly string[];
  /** podman's --since/--until, read by `parseTime` */
  since?: string;
  until?: string;
  /** how times are read (default parseEventTime; the CLI adds durations) */
  parseTime?: TimeParser;
  /** keep following the log after the past events (until `signal` aborts or `until` passes) */
  stream?: boolean;
  signal?: AbortSignal;
  /** told why the file log is read although containers.conf asks for journald */
  onWarning?: (message: string) => void;
}

/** Parses and checks `q`'s filters and times (EINVALID on bad input): what a front end calls before it prints anything. */
export function checkEventQuery(q: EventQuery): { filters: EventFilters; since?: number; until?: number } {
  const parseTime = q.parseTime ?? parseEventTime;
  const filters = parseEventFilters(q.filters ?? []);
  for (const v of filters.get('since') ?? []) parseTime(v, 'since filter');
  for (const v of filters.get('until') ?? []) parseTime(v, 'until filter');
  const since = q.since !== undefined ? parseTime(q.since, '--since') : undefined;
  const until = q.until !== undefined ? parseTime(q.until, '--until') : undefined;
  return { filters, ...(since !== undefined && { since }), ...(until !== undefined && { until }) };
}

/**
 * Calls `onEvent` for each logged event matching `q`, oldest first; with `stream`, then for each new one as it is
 * appended, until `signal` aborts or the `until` time passes. Filters and times are checked before anything is
 * read, so bad input fails before any output; so is containers.conf's events_logger (`none`: EINVALID, podman's
 * message; `journald`: the file log, with a warning).
 */
export async function listEvents(root: string, q: EventQuery, onEvent: (e: StoreEvent) => void): Promise<void> {
  const { filters, since, until } = checkEventQuery(q);
  const backend = eventsBackend(containersConf());
  if (backend.backend === 'none') throw new SkiffError('EINVALID', 'cannot read events with the "none" backend', { hint: 'set events_logger = "file" in the [engine] table of containers.conf' });
  if (backend.warning) q.onWarning?.(backend.warning);
  const keep = (e: StoreEvent): boolean => {
    const t = Date.parse(e.Time);
    if (since !== undefined && t < since) return false;
    if (until !== undefined && t > until) return false;
    return matchEvent(e, filters, q.parseTime);
  };
  const valid = (e: Record<string, unknown>): e is StoreEvent & Record<string, unknown> => typeof e.Status === 'string' && typeof e.Time === 'string' && typeof e.Type === 'string';
  // past events only when asked for (podman: a plain `events` streams from now, --since replays)
  const replay = !q.stream || since !== undefined || until !== undefined;
  if (replay) for (const e of await readEvents(root)) if (valid(e) && keep(e)) onEvent(e);
  if (!q.stream) return;
  if (until !== undefined && Date.now() > until) return;
  const ac = new AbortController();
  const stop = (): void => ac.abort();
  q.signal?.addEventListener('abort', stop, { once: true });
  const timer = until !== undefined ? setTimeout(stop, until - Date.now()) : undefined;
  try {
    await followEvents(root, (e) => {
      if (valid(e) && keep(e)) onEvent(e);
    }, { signal: ac.signal });
  } finally {
    if (timer) clearTimeout(timer);
    q.signal?.removeEventListener('abort', stop);
  }
}
