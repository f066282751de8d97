// What run-tool's operations write to the store's event log (shared/store/event-log.ts), in podman's own file
// format (events_logger = "file"): one JSON object per event with podman's keys in podman's order. With
// events_logger = "none" nothing is written.
import { appendEvent } from '../../shared/store/event-log.ts';
import { containersConf } from '../../shared/config/containers-conf.ts';
import { eventsBackend } from '../../shared/config/events-logger.ts';
import type { ContainerRecord } from './state.ts';

/** The kinds of object events are about (podman's event types). */
export type EventType = 'container' | 'image' | 'pod' | 'volume' | 'network' | 'system';

/** One event as podman's file logger writes it and `events --format json` prints it. */
export interface StoreEvent {
  ContainerExitCode?: number;
  ID?: string;
  Image?: string;
  Name: string;
  Status: string;
  /** RFC 3339 with up to nanoseconds, UTC */
  Time: string;
  Type: EventType;
  /** container events: the container's labels (`{}` when none); others null */
  Attributes: Record<string, string> | null;
}

let logging: boolean | undefined;

/** Whether this process writes events: not with containers.conf's `events_logger = "none"` (read once; an unreadable configuration keeps the log). */
function eventsOn(): boolean {
  if (logging === undefined) {
    try {
      logging = eventsBackend(containersConf()).backend !== 'none';
    } catch {
      logging = true;
    }
  }
  return logging;
}

function append(root: string, e: StoreEvent): void {
  if (eventsOn()) appendEvent(root, e);
}

/** The current time as RFC 3339 with nanosecond digits (sub-millisecond from the high-resolution clock). */
export function eventTime(): string {
  const ms = performance.timeOrigin + performance.now();
  const whole = Math.floor(ms / 1000);
  const ns = Math.floor((ms - whole * 1000) * 1e6);
  const base = new Date(whole * 1000).toISOString().slice(0, 19);
  const frac = String(ns).padStart(9, '0').replace(/0+$/, '');
  return `${base}${frac ? `.${frac}` : ''}Z`;
}

/** Appends container event `status` (create, init, start, died, stop, kill, pause, unpause, remove, …) for `record`. Never throws. */
export function recordContainerEvent(root: string, record: ContainerRecord, status: string, o: { exitCode?: number } = {}): void {
  const e: StoreEvent = {
    ...(o.exitCode !== undefined && { ContainerExitCode: o.exitCode }),
    ID: record.id,
    Image: record.image.name,
    Name: record.name,
    Status: status,
    Time: eventTime(),
    Type: 'container',
    Attributes: { ...record.config.labels },
  };
  append(root, e);
}

/** Appends image event `status` (pull, tag, untag, remove, save, load, …) about the image `id` (64 hex or empty) named `name`. Never throws. */
export function recordImageEvent(root: string, status: string, name: string, id = ''): void {
  const e: StoreEvent = { ...(id && { ID: id.replace(/^sha256:/, '') }), Name: name, Status: status, Time: eventTime(), Type: 'image', Attributes: null };
  append(root, e);
}

/** Appends a `type` event (volume, network, pod, system) `status` about `name`. Never throws. */
export function recordEvent(root: string, type: Exclude<EventType, 'container' | 'image'>, status: string, name: string, id = ''): void {
  const e: StoreEvent = { ...(id && { ID: id }), Name: name, Status: status, Time: eventTime(), Type: type, Attributes: null };
  append(root, e);
}
