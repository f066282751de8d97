import { describe, expect, it } from 'vitest';
import { isSkiffError } from '../../../shared/errors.ts';
import { formatReference, parseReference } from '../../../shared/ref/reference.ts';
import { NO_SHORT_NAME_CONFIG, localCandidates, matchesShortName, parseShortNameMode, resolvePullName, type ShortNameConfig } from '../../../shared/ref/short-name.ts';

const D = `sha256:${'c'.repeat(64)}`;
const conf = (o: Partial<ShortNameConfig> = {}): ShortNameConfig => ({ searchRegistries: [], searchOrigin: '/etc/containers/registries.conf', aliases: {}, mode: 'permissive', ...o });
const alias = (value: string, origin = '/etc/containers/registries.conf.d/aliases.conf') => ({ value, origin });
const names = (input: string, c: ShortNameConfig) => localCandidates(parseReference(input), c).map(formatReference);
const pulls = (input: string, c: ShortNameConfig) => resolvePullName(parseReference(input), c).candidates.map(formatReference);
const thrown = (f: () => unknown): Error => {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw');
};

describe('localCandidates: the exact names a local lookup tries, in order', () => {
  it.each([
    ['busybox', conf(), ['localhost/busybox:latest', 'docker.io/library/busybox:latest']],
    ['busybox', conf({ searchRegistries: ['127.0.0.1:5000', 'docker.io'] }), ['localhost/busybox:latest', '127.0.0.1:5000/busybox:latest', 'docker.io/library/busybox:latest']],
    ['busybox:1', conf({ aliases: { busybox: alias('127.0.0.2:5000/lib/bb') } }), ['127.0.0.2:5000/lib/bb:1', 'localhost/busybox:1', 'docker.io/library/busybox:1']],
    ['ns/app:v2', conf({ searchRegistries: ['quay.example'] }), ['localhost/ns/app:v2', 'quay.example/ns/app:v2', 'docker.io/ns/app:v2']],
    [`busybox:1@${D}`, conf(), [`localhost/busybox@${D}`, `docker.io/library/busybox@${D}`]],
    ['127.0.0.1:5000/library/busybox', conf({ searchRegistries: ['a.example'] }), ['127.0.0.1:5000/library/busybox:latest']],
    ['localhost/app', conf(), ['localhost/app:latest']],
    // an alias reset by a later file ('') is no alias
    ['busybox', conf({ aliases: { busybox: alias('') } }), ['localhost/busybox:latest', 'docker.io/library/busybox:latest']],
  ])('%s', (input, c, want) => {
    expect(names(input, c)).toEqual(want);
  });
});

describe('matchesShortName: podman matches a short name against stored names by repository suffix', () => {
  it.each([
    ['127.0.0.1:5000/library/busybox:latest', 'busybox', true],
    ['127.0.0.1:5000/library/busybox:latest', 'library/busybox', true],
    ['127.0.0.1:5000/library/busybox:latest', 'library/busybox:latest', true],
    ['127.0.0.1:5000/library/busybox:v2', 'busybox', false], // tag defaults to latest
    ['127.0.0.1:5000/library/busybox:v2', 'busybox:v2', true],
    ['127.0.0.1:5000/library/busybox:latest', 'ibrary/busybox', false], // only at a path boundary
    ['127.0.0.1:5000/library/mybusybox:latest', 'busybox', false],
    ['127.0.0.1:5000/library/busybox:latest', 'busybox/x', false],
    ['docker.io/library/busybox:latest', 'busybox', true],
    ['localhost/busybox:latest', 'busybox', true],
    ['127.0.0.1:5000/library/busybox:latest', '127.0.0.1:5000/library/busybox', false], // qualified names never scan
    ['127.0.0.1:5000/library/busybox:latest', `busybox@${D}`, false], // digests match by digest, not by name
  ])('%s ~ %s → %s', (stored, short, want) => {
    expect(matchesShortName(parseReference(stored), parseReference(short))).toBe(want);
  });
});

describe('resolvePullName: where a pull goes (podman without a TTY)', () => {
  it('a qualified name is itself, with the default tag', () => {
    expect(pulls('127.0.0.1:5000/busybox', conf())).toEqual(['127.0.0.1:5000/busybox:latest']);
    expect(resolvePullName(parseReference('127.0.0.1:5000/busybox'), conf()).description).toBeUndefined();
  });

  it('each search registry in order (permissive and disabled), with podman\'s description line', () => {
    const c = conf({ searchRegistries: ['127.0.0.1:5000', '127.0.0.2:5000', '127.0.0.1:5000'] });
    expect(pulls('busybox:1', c)).toEqual(['127.0.0.1:5000/busybox:1', '127.0.0.2:5000/busybox:1']);
    expect(pulls('busybox', { ...c, mode: 'disabled' })).toEqual(['127.0.0.1:5000/busybox:latest', '127.0.0.2:5000/busybox:latest']);
    expect(pulls(`busybox@${D}`, c)).toEqual([`127.0.0.1:5000/busybox@${D}`, `127.0.0.2:5000/busybox@${D}`]);
    expect(resolvePullName(parseReference('busybox:1'), c).description).toBe('Resolving "busybox" using unqualified-search registries (/etc/containers/registries.conf)');
  });

  it('an alias wins over the search registries and keeps the user\'s tag', () => {
    const c = conf({ searchRegistries: ['127.0.0.1:5000'], aliases: { busybox: alias('127.0.0.2:5000/lib/busybox') } });
    const r = resolvePullName(parseReference('busybox:1.36'), c);
    expect(r.candidates.map(formatReference)).toEqual(['127.0.0.2:5000/lib/busybox:1.36']);
    expect(r.description).toBe('Resolved "busybox" as an alias (/etc/containers/registries.conf.d/aliases.conf)');
  });

  it('no alias and an empty search list is an error that names the file, as podman says it', () => {
    const e = thrown(() => resolvePullName(parseReference('busybox'), conf()));
    expect(isSkiffError(e, 'ENOTFOUND')).toBe(true);
    expect(e.message).toBe('short-name "busybox" did not resolve to an alias and no unqualified-search registries are defined in "/etc/containers/registries.conf"');
    const t = thrown(() => resolvePullName(parseReference('busybox:v9'), conf()));
    expect(t.message).toMatch(/^short-name "busybox:v9" did not resolve/);
    const none = thrown(() => resolvePullName(parseReference('busybox'), NO_SHORT_NAME_CONFIG));
    expect(none.message).toBe('short-name "busybox" did not resolve to an alias and no containers-registries.conf(5) was found');
  });

  it('enforcing refuses an ambiguous short name (skiff never prompts) but allows a single candidate', () => {
    const two = conf({ searchRegistries: ['127.0.0.1:5000', '127.0.0.2:5000'], mode: 'enforcing' });
    const e = thrown(() => resolvePullName(parseReference('busybox'), two));
    expect(e.message).toBe('short-name resolution enforced but cannot prompt without a TTY');
    expect(pulls('busybox', { ...two, searchRegistries: ['127.0.0.1:5000'] })).toEqual(['127.0.0.1:5000/busybox:latest']);
    expect(pulls('busybox', { ...two, aliases: { busybox: alias('127.0.0.2:5000/busybox') } })).toEqual(['127.0.0.2:5000/busybox:latest']);
  });

  it('an alias that is not a qualified repository is EINVALID naming its file', () => {
    for (const bad of ['busybox', '127.0.0.1:5000/busybox:1', `127.0.0.1:5000/busybox@${D}`, 'UPPER/x']) {
      const e = thrown(() => resolvePullName(parseReference('bb'), conf({ aliases: { bb: alias(bad, '/x/aliases.conf') } })));
      expect(isSkiffError(e, 'EINVALID')).toBe(true);
      expect(e.message).toContain('/x/aliases.conf');
    }
  });

  it('short-name-mode values', () => {
    expect(parseShortNameMode(undefined)).toBe('permissive');
    expect(parseShortNameMode('enforcing')).toBe('enforcing');
    expect(parseShortNameMode('disabled')).toBe('disabled');
    expect(() => parseShortNameMode('strict', '/r.conf')).toThrow(/invalid short-name mode "strict" in \/r.conf/);
  });
});
