// What containers.conf's [engine] `events_logger` means for skiff's event log (shared/store/event-log.ts).
import { existsSync } from 'node:fs';
import type { ContainersConf } from './containers-conf.ts';

/** The socket a running systemd-journald listens on. */
export const JOURNAL_SOCKET = '/run/systemd/journal/socket';

/** Where events go: skiff's file log, or nowhere; `warning` (journald asked for) says why it is the file. */
export interface EventsBackend {
  backend: 'file' | 'none';
  warning?: string;
}

/**
 * The events backend `events_logger` selects: `file` (the default) and `none` as named; `journald` is the file log
 * with a warning — without a journal (`journalSocket` absent) as podman falls back to the file logger, and with
 * one because skiff writes no journal entries. Reads whether the socket exists only for `journald`.
 */
export function eventsBackend(conf: Pick<ContainersConf, 'eventsLogger'>, journalSocket = JOURNAL_SOCKET): EventsBackend {
  if (conf.eventsLogger === 'none') return { backend: 'none' };
  if (conf.eventsLogger !== 'journald') return { backend: 'file' };
  const why = existsSync(journalSocket) ? 'skiff does not write to the journal' : `no journal is running (${journalSocket} is missing)`;
  return { backend: 'file', warning: `events_logger is "journald" but ${why}: events are kept in the file log` };
}
