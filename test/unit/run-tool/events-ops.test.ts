import { describe, expect, it } from 'vitest';
import { humanEvent } from '../../../run-tool/commands/events.ts';
import { matchEvent, parseEventFilters, parseEventTime, type StoreEvent } from '../../../run-tool/ops/events.ts';

const id = 'a'.repeat(64);
const died: StoreEvent = { ContainerExitCode: 3, ID: id, Image: 'localhost/busybox:latest', Name: 'c1', Status: 'died', Time: '2026-12-07T03:27:09.852334441Z', Type: 'container', Attributes: { b: '2', a: '1' } };
const tag: StoreEvent = { ID: 'b'.repeat(64), Name: 'localhost/bb2', Status: 'tag', Time: '2026-12-07T03:27:10.145568437Z', Type: 'image', Attributes: null };

describe('events filters (podman keys; one key OR, keys AND)', () => {
  it('matches container by name or ID prefix, event with docker aliases, type, label, image', () => {
    const m = (e: StoreEvent, ...f: string[]) => matchEvent(e, parseEventFilters(f));
    expect(m(died, 'container=c1')).toBe(true);
    expect(m(died, `container=${id.slice(0, 12)}`)).toBe(true);
    expect(m(died, 'container=c2')).toBe(false);
    expect(m(died, 'event=die')).toBe(true);
    expect(m(died, 'event=start', 'event=died')).toBe(true);
    expect(m(died, 'event=died', 'type=image')).toBe(false);
    expect(m(died, 'label=a=1', 'label=zz')).toBe(true);
    expect(m(died, 'label=a=2')).toBe(false);
    expect(m(died, 'image=localhost/busybox')).toBe(true);
    expect(m(tag, 'image=localhost/bb2', 'type=image')).toBe(true);
    expect(m(tag, 'container=localhost/bb2')).toBe(false);
    expect(m(died, 'until=2026-12-07T03:27:09Z')).toBe(false);
    expect(m(died, 'since=2026-12-07T03:27:09Z')).toBe(true);
  });

  it('refuses unknown keys and types and a value without a key, in one line each', () => {
    expect(() => parseEventFilters(['bogus=1'])).toThrow('bogus is an invalid filter');
    expect(() => parseEventFilters(['type=nope'])).toThrow('nope is an invalid event type');
    expect(() => parseEventFilters(['container'])).toThrow('invalid filter "container": want KEY=VALUE');
  });
});

describe('humanEvent (podman 4.3 lines)', () => {
  it('prints a container event with sorted attributes and an image event with its name', () => {
    expect(humanEvent(died)).toBe(`2026-12-07 03:27:09.852334441 +0000 UTC container died ${id} (image=localhost/busybox:latest, name=c1, a=1, b=2)`);
    expect(humanEvent(tag)).toBe(`2026-12-07 03:27:10.145568437 +0000 UTC image tag ${'b'.repeat(64)} localhost/bb2`);
  });
});

describe('parseEventTime', () => {
  it('the API\'s plain forms: Unix seconds and RFC 3339 only', () => {
    expect(parseEventTime('1700000000.5', 'since')).toBe(1_700_000_000_500);
    expect(() => parseEventTime('10m', 'since')).toThrow('invalid since "10m"');
  });
});
