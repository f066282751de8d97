import { spawn } from 'node:child_process';
import { appendFileSync, readFileSync, statSync, writeFileSync, mkdirSync, utimesSync, existsSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendEvent, eventLogPaths, followEvents, MAX_LINE, parseEventLines, readEvents } from '../../../shared/store/event-log.ts';
import { scratchDir } from '../../helpers/tmp.ts';

describe('store event log', () => {
  let root: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => {
    ({ dir: root, cleanup } = await scratchDir('skiff-evlog-'));
  });
  afterEach(async () => cleanup());

  it('appends one JSON line per event and reads them back in order', async () => {
    for (let i = 0; i < 5; i++) appendEvent(root, { n: i });
    expect((await readEvents(root)).map((e) => e.n)).toEqual([0, 1, 2, 3, 4]);
    expect(readFileSync(eventLogPaths(root).log, 'utf8').split('\n')).toHaveLength(6);
    expect(statSync(eventLogPaths(root).log).mode & 0o777).toBe(0o600);
  });

  it('skips a torn last line (a writer that crashed) and non-object lines', async () => {
    appendEvent(root, { n: 1 });
    appendFileSync(eventLogPaths(root).log, '{"n":2,"tor');
    expect((await readEvents(root)).map((e) => e.n)).toEqual([1]);
    expect(parseEventLines('[1]\n"x"\n\n{"a":1}\n')).toEqual([{ a: 1 }]);
  });

  it('rotates past maxBytes: the old lines move to events.log.1 and are still read first; the log stays bounded', async () => {
    for (let i = 0; i < 300; i++) appendEvent(root, { n: i, pad: 'x'.repeat(80) }, { maxBytes: 4096 });
    const p = eventLogPaths(root);
    expect(statSync(p.log).size).toBeLessThan(4096 + 200);
    expect(statSync(p.rotated).size).toBeLessThan(4096 + 200);
    const ns = (await readEvents(root)).map((e) => e.n as number);
    expect(ns.at(-1)).toBe(299);
    expect(ns).toEqual([...ns].sort((a, b) => a - b));
    expect(existsSync(p.rotating)).toBe(false);
  });

  it('a writer never waits on a rotation marker; a stale one (a rotator that died) is removed', async () => {
    const p = eventLogPaths(root);
    mkdirSync(p.dir, { recursive: true });
    writeFileSync(p.log, `${JSON.stringify({ pad: 'x'.repeat(5000) })}\n`);
    writeFileSync(p.rotating, '');
    appendEvent(root, { n: 1 }, { maxBytes: 4096 }); // marker held: appends without rotating
    expect(existsSync(p.rotated)).toBe(false);
    const old = new Date(Date.now() - 60_000);
    utimesSync(p.rotating, old, old);
    appendEvent(root, { n: 2 }, { maxBytes: 4096 }); // stale marker removed
    appendEvent(root, { n: 3 }, { maxBytes: 4096 }); // rotates now
    expect(existsSync(p.rotated)).toBe(true);
    expect((await readEvents(root)).map((e) => e.n).filter((n) => n !== undefined)).toEqual([1, 2, 3]);
  });

  it('drops an event longer than MAX_LINE instead of writing it in pieces', async () => {
    appendEvent(root, { big: 'x'.repeat(MAX_LINE) });
    appendEvent(root, { n: 1 });
    expect(await readEvents(root)).toEqual([{ n: 1 }]);
  });

  it('never throws when the log cannot be written (the operation itself succeeded)', () => {
    writeFileSync(`${root}/events`, 'a file where the directory should be');
    expect(() => appendEvent(root, { n: 1 })).not.toThrow();
  });

  it('concurrent writers in separate processes lose and tear no line', async () => {
    const script = `import { appendEvent } from ${JSON.stringify(new URL('../../../shared/store/event-log.ts', import.meta.url).pathname)};\nfor (let i = 0; i < 200; i++) appendEvent(process.argv[2], { w: Number(process.argv[3]), i, pad: 'y'.repeat(300) }, { maxBytes: 1e9 });\n`;
    const file = `${root}/w.mts`;
    writeFileSync(file, script);
    await Promise.all([0, 1, 2].map((w) => new Promise<void>((res, rej) => {
      const c = spawn(process.execPath, [file, root, String(w)], { stdio: 'inherit' });
      c.on('exit', (code) => (code === 0 ? res() : rej(new Error(`writer ${w} exited ${code}`))));
    })));
    const lines = readFileSync(eventLogPaths(root).log, 'utf8').split('\n').filter(Boolean);
    expect(lines).toHaveLength(600);
    const all = lines.map((l) => JSON.parse(l) as { w: number; i: number });
    for (const w of [0, 1, 2]) expect(all.filter((e) => e.w === w).map((e) => e.i)).toEqual([...Array(200).keys()]);
  });

  it('follows appended events across a rotation, and a partial line waits for its newline', async () => {
    appendEvent(root, { n: 0 });
    const seen: unknown[] = [];
    const ac = new AbortController();
    const done = followEvents(root, (e) => seen.push(e.n), { signal: ac.signal, intervalMs: 20 });
    await new Promise((r) => setTimeout(r, 60));
    appendEvent(root, { n: 1 });
    appendFileSync(eventLogPaths(root).log, '{"n":2');
    await new Promise((r) => setTimeout(r, 80));
    expect(seen).toEqual([1]);
    appendFileSync(eventLogPaths(root).log, '}\n');
    for (let i = 3; i < 60; i++) appendEvent(root, { n: i, pad: 'z'.repeat(100) }, { maxBytes: 5000 }); // one rotation between two looks
    await new Promise((r) => setTimeout(r, 150));
    ac.abort();
    await done;
    expect(seen).toEqual([1, 2, ...Array.from({ length: 57 }, (_, i) => i + 3)]);
  });
});
