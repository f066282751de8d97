// The store's event log: what the tools did to containers and images, as podman's `events_logger = "file"` keeps it.
//
// Layout: `<root>/events/events.log`, one JSON object per line, append-only; `events.log.1` holds the lines before
// the last rotation. Race reasoning:
//   - Each event is one write(2) of one line on an O_APPEND descriptor: concurrent writers never interleave bytes
//     within a line (the kernel moves the offset to the end atomically for each write), and no lock is taken, so a
//     writer never blocks on another process. A line is at most MAX_LINE bytes (longer events are dropped).
//   - A crash mid-write leaves at most one torn line at the end; readers skip lines that do not parse.
//   - Rotation: when the log passes `maxBytes`, the writer that wins the O_EXCL marker `events.log.rotating`
//     renames events.log → events.log.1 (atomic; a reader holding the old file keeps reading it) and removes the
//     marker. A writer that loses skips rotation and appends anyway. A marker older than 30 s (a rotator that
//     died) is removed by the next writer. So the log stays within about 2 × maxBytes.
//   - Writing the log never fails the operation that reports the event: its errors are ignored.
import { closeSync, openSync, readSync, fstatSync, writeSync, mkdirSync, statSync, renameSync, unlinkSync, constants } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Where one store keeps its event log. Pure. */
export function eventLogPaths(root: string): { dir: string; log: string; rotated: string; rotating: string } {
  const dir = join(root, 'events');
  return { dir, log: join(dir, 'events.log'), rotated: join(dir, 'events.log.1'), rotating: join(dir, 'events.log.rotating') };
}

/** Default size at which the log rotates (podman's events_logfile_max_size is 1 MB). */
export const EVENT_LOG_MAX_BYTES = 1_000_000;
/** The longest line appended; a longer event is dropped rather than written in pieces. */
export const MAX_LINE = 64 * 1024;
const STALE_ROTATION_MS = 30_000;

/**
 * Appends `event` as one JSON line to the store's log, rotating first when the log is past `maxBytes`. Never
 * throws and never waits for another process (see the race notes above).
 */
export function appendEvent(root: string, event: object, o: { maxBytes?: number } = {}): void {
  try {
    const line = `${JSON.stringify(event)}\n`;
    if (Buffer.byteLength(line) > MAX_LINE) return;
    const p = eventLogPaths(root);
    mkdirSync(p.dir, { recursive: true, mode: 0o700 });
    maybeRotate(p, o.maxBytes ?? EVENT_LOG_MAX_BYTES);
    const fd = openSync(p.log, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o600);
    try {
      writeSync(fd, line);
    } finally {
      closeSync(fd);
    }
  } catch {
    /* the event log is best effort: the operation itself succeeded */
  }
}

function maybeRotate(p: ReturnType<typeof eventLogPaths>, maxBytes: number): void {
  let size: number;
  try {
    size = statSync(p.log).size;
  } catch {
    return;
  }
  if (size < maxBytes) return;
  try {
    closeSync(openSync(p.rotating, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600));
  } catch {
    try {
      if (Date.now() - statSync(p.rotating).mtimeMs > STALE_ROTATION_MS) unlinkSync(p.rotating);
    } catch {
      /* gone meanwhile */
    }
    return;
  }
  try {
    // another writer may have rotated between our stat and the marker: look again under the marker
    if (statSync(p.log).size >= maxBytes) renameSync(p.log, p.rotated);
  } catch {
    /* nothing to rotate */
  } finally {
    try {
      unlinkSync(p.rotating);
    } catch {
      /* removed as stale by another writer */
    }
  }
}

/** Parses log text into objects, skipping blank, torn or non-object lines. Pure. */
export function parseEventLines(text: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const v = JSON.parse(line) as unknown;
      if (v && typeof v === 'object' && !Array.isArray(v)) out.push(v as Record<string, unknown>);
    } catch {
      /* a torn line left by a crash */
    }
  }
  return out;
}

/** Every event in the log, oldest first (the rotated file, then the current one). A store with no log has none. */
export async function readEvents(root: string): Promise<Record<string, unknown>[]> {
  const p = eventLogPaths(root);
  const older = await readFile(p.rotated, 'utf8').catch(() => '');
  const now = await readFile(p.log, 'utf8').catch(() => '');
  return [...parseEventLines(older), ...parseEventLines(now)];
}

/**
 * Follows the log from its current end, calling `onEvent` for each event appended afterwards, until `signal`
 * aborts. Polls every `intervalMs`; a rotation is noticed by the log's inode changing, and the rest of the old
 * file (now events.log.1) is read before the new one; a follower that falls more than one rotation behind between
 * two looks misses the lines of the files in between. A partial last line waits for its newline.
 */
export async function followEvents(root: string, onEvent: (e: Record<string, unknown>) => void, o: { signal?: AbortSignal; intervalMs?: number; fromStart?: boolean } = {}): Promise<void> {
  const p = eventLogPaths(root);
  const ident = async (): Promise<{ ino: number; size: number } | undefined> => stat(p.log).then((s) => ({ ino: s.ino, size: s.size }), () => undefined);
  let cur = await ident();
  let ino = cur?.ino ?? -1;
  let offset = o.fromStart ? 0 : (cur?.size ?? 0);
  let pending = Buffer.alloc(0);
  // bytes, not text: a read may end inside a multi-byte character
  const emit = (bytes: Buffer): void => {
    const all = Buffer.concat([pending, bytes]);
    const cut = all.lastIndexOf(0x0a);
    pending = cut < 0 ? all : all.subarray(cut + 1);
    if (cut >= 0) for (const e of parseEventLines(all.subarray(0, cut).toString('utf8'))) onEvent(e);
  };
  while (!o.signal?.aborted) {
    cur = await ident();
    if (cur && cur.ino !== ino) {
      // rotated (or created): finish the old file where it now lives, then start the new one at 0
      if (ino !== -1) {
        const rest = readFrom(p.rotated, offset, ino);
        if (rest !== undefined) emit(rest);
      }
      pending = Buffer.alloc(0);
      ino = cur.ino;
      offset = 0;
    }
    if (cur && cur.size > offset) {
      const bytes = readFrom(p.log, offset, ino);
      if (bytes !== undefined) {
        offset += bytes.length;
        emit(bytes);
      }
    }
    await sleep(o.intervalMs ?? 200, undefined, { signal: o.signal }).catch(() => {});
  }
}

/** The bytes of `path` from `offset` to its end, if the file is still the one with inode `ino`. */
function readFrom(path: string, offset: number, ino: number): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    if (st.ino !== ino || st.size <= offset) return undefined;
    const buf = Buffer.alloc(st.size - offset);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, offset + got);
      if (n <= 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}
