import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findRegistry, loadRegistriesConf, loadShortNameConfig, parseRegistriesConf, shortNameAliasesPath } from '../../../shared/ref/registries-conf.ts';
import { scratchDir } from '../../helpers/tmp.ts';

const SAMPLE = `
# system-wide registries
unqualified-search-registries = [
  "registry.fedoraproject.org",  # fedora
  'quay.io',
  "docker.io",
]
short-name-mode = "enforcing"

[[registry]]
prefix = "example.com/foo"
location = "internal.example.com:5000/foo"
insecure = true

[[registry.mirror]]
location = "mirror-1.local/foo"

[[registry.mirror]]
location = "mirror-2.local/foo"
insecure = true

[[registry]]
location = "blocked.io"
blocked = true

[[registry]]
prefix = "*.wild.io"
location = "w.io"

[aliases]
"fedora" = "registry.fedoraproject.org/fedora"
"esc\\"aped" = "a\\u0041"
`;

describe('registries.conf', () => {
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await cleanup?.();
    cleanup = undefined;
  });

  it('parses search registries, registry tables, mirrors and aliases', () => {
    const c = parseRegistriesConf(SAMPLE);
    expect(c.unqualifiedSearchRegistries).toEqual(['registry.fedoraproject.org', 'quay.io', 'docker.io']);
    expect(c.shortNameMode).toBe('enforcing');
    expect(c.registries).toEqual([
      {
        prefix: 'example.com/foo',
        location: 'internal.example.com:5000/foo',
        insecure: true,
        blocked: false,
        mirrors: [
          { location: 'mirror-1.local/foo', insecure: false },
          { location: 'mirror-2.local/foo', insecure: true },
        ],
      },
      { prefix: 'blocked.io', location: 'blocked.io', insecure: false, blocked: true, mirrors: [] },
      { prefix: '*.wild.io', location: 'w.io', insecure: false, blocked: false, mirrors: [] },
    ]);
    expect(c.aliases).toEqual({ fedora: 'registry.fedoraproject.org/fedora', 'esc"aped': 'aA' });
  });

  it('maps the version 1 format', () => {
    const c = parseRegistriesConf('[registries.search]\nregistries = ["a.io"]\n[registries.insecure]\nregistries = ["b.io"]\n[registries.block]\nregistries = ["c.io"]\n');
    expect(c.unqualifiedSearchRegistries).toEqual(['a.io']);
    expect(c.registries.map((r) => [r.prefix, r.insecure, r.blocked])).toEqual([['b.io', true, false], ['c.io', false, true]]);
  });

  it('matches registries by longest prefix at a path boundary and by wildcard host', () => {
    const c = parseRegistriesConf(SAMPLE);
    expect(findRegistry(c, 'example.com/foo/bar:1')?.location).toBe('internal.example.com:5000/foo');
    expect(findRegistry(c, 'example.com/foobar')).toBeUndefined();
    expect(findRegistry(c, 'blocked.io/x')?.blocked).toBe(true);
    expect(findRegistry(c, 'a.wild.io/x')?.location).toBe('w.io');
    expect(findRegistry(c, 'docker.io/library/x')).toBeUndefined();
  });

  it('rejects wrong types and unsupported syntax with the file and line', () => {
    expect(() => parseRegistriesConf('unqualified-search-registries = "docker.io"', 'f.conf')).toThrow(/f\.conf:1: .*array of strings/);
    expect(() => parseRegistriesConf('[[registry]]\ninsecure = "yes"', 'f.conf')).toThrow(/f\.conf:2/);
    expect(parseRegistriesConf("x = { a = 1 }").registries).toEqual([]);
    expect(() => parseRegistriesConf('x = "unterminated')).toThrow(/registries\.conf:1: unfinished string/);
    expect(() => parseRegistriesConf('[[registry]]\ninsecure = true')).toThrow(/prefix or a location/);
    // unknown keys and tables are ignored
    expect(parseRegistriesConf('[engine]\nfoo = 1\nbar = [1, [2, 3]]\n').registries).toEqual([]);
  });

  it('parses a file once per distinct text (shared and frozen), and sees an edit at once', async () => {
    const s = await scratchDir();
    cleanup = s.cleanup;
    const f = join(s.dir, 'registries.conf');
    await writeFile(f, '[[registry]]\nlocation = "127.0.0.1:5000"\ninsecure = true\n');
    const a = await loadRegistriesConf({ path: f });
    const b = await loadRegistriesConf({ path: f });
    expect(b.registries).toBe(a.registries);
    expect(Object.isFrozen(a.registries[0])).toBe(true);
    await writeFile(f, '[[registry]]\nlocation = "127.0.0.1:5000"\ninsecure = false\n');
    expect((await loadRegistriesConf({ path: f })).registries[0]!.insecure).toBe(false);
    // line numbers of errors are still exact (they are looked up only for the error)
    expect(() => parseRegistriesConf('[aliases]\n"a" = "127.0.0.1:5000/a"\n"b" = 1\n', 'f.conf')).toThrow(/f\.conf:3: b must be a string/);
  });

  it('loads an explicit path, else $HOME then the system file, with registries.conf.d drop-ins', async () => {
    const s = await scratchDir();
    cleanup = s.cleanup;
    const home = join(s.dir, 'home');
    const sys = join(s.dir, 'etc');
    await mkdir(join(sys, 'registries.conf.d'), { recursive: true });
    await writeFile(join(sys, 'registries.conf'), 'unqualified-search-registries = ["docker.io"]\n[[registry]]\nlocation = "a.io"\n');
    await writeFile(join(sys, 'registries.conf.d', '10-x.conf'), 'unqualified-search-registries = ["quay.io"]\n');
    await writeFile(join(sys, 'registries.conf.d', '20-y.conf'), '[[registry]]\nlocation = "a.io"\ninsecure = true\n');
    await writeFile(join(sys, 'registries.conf.d', 'ignored.txt'), 'garbage');

    const fromSys = await loadRegistriesConf({ env: { HOME: home }, systemDir: sys });
    expect(fromSys.unqualifiedSearchRegistries).toEqual(['quay.io']);
    expect(fromSys.registries).toEqual([{ prefix: 'a.io', location: 'a.io', insecure: true, blocked: false, mirrors: [] }]);
    expect(fromSys.files).toHaveLength(3);

    await mkdir(join(home, '.config/containers'), { recursive: true });
    await writeFile(join(home, '.config/containers/registries.conf'), 'unqualified-search-registries = ["home.io"]\n');
    const fromHome = await loadRegistriesConf({ env: { HOME: home }, systemDir: sys });
    expect(fromHome.unqualifiedSearchRegistries).toEqual(['home.io']);

    const explicit = join(s.dir, 'mine.conf');
    await writeFile(explicit, 'unqualified-search-registries = ["mine.io"]\n');
    expect((await loadRegistriesConf({ path: explicit, env: { HOME: home }, systemDir: sys })).unqualifiedSearchRegistries).toEqual(['mine.io']);
    expect((await loadRegistriesConf({ env: { HOME: home, CONTAINERS_REGISTRIES_CONF: explicit }, systemDir: sys })).files).toEqual([explicit]);
    await expect(loadRegistriesConf({ path: join(s.dir, 'missing.conf') })).rejects.toMatchObject({ code: 'ENOTFOUND' });
    const none = await loadRegistriesConf({ env: { HOME: join(s.dir, 'nohome') }, systemDir: join(s.dir, 'noetc') });
    expect(none).toMatchObject({ unqualifiedSearchRegistries: [], registries: [], files: [] });
  });

  it('loadShortNameConfig: search list and the file that set it, aliases with origins, short-name-aliases.conf wins', async () => {
    const s = await scratchDir();
    cleanup = s.cleanup;
    const sys = join(s.dir, 'etc');
    const home = join(s.dir, 'home');
    await mkdir(join(sys, 'registries.conf.d'), { recursive: true });
    const main = join(sys, 'registries.conf');
    const drop = join(sys, 'registries.conf.d', '10-aliases.conf');
    await writeFile(main, 'short-name-mode = "enforcing"\n[aliases]\n"a" = "127.0.0.1:5000/a"\n"b" = "127.0.0.1:5000/b"\n');
    await writeFile(drop, '[aliases]\n"b" = "127.0.0.2:5000/b"\n"c" = ""\n');
    const aliasesFile = join(s.dir, 'short-name-aliases.conf');
    await writeFile(aliasesFile, '[aliases]\n  a = "127.0.0.3:5000/a"\n');
    const c = await loadShortNameConfig({ env: { HOME: home }, systemDir: sys, aliasesFile });
    expect(c).toEqual({
      searchRegistries: [],
      searchOrigin: main,
      mode: 'enforcing',
      aliases: { a: { value: '127.0.0.3:5000/a', origin: aliasesFile }, b: { value: '127.0.0.2:5000/b', origin: drop }, c: { value: '', origin: drop } },
    });
    // a drop-in that sets the search list becomes its origin
    const usr = join(sys, 'registries.conf.d', '20-usr.conf');
    await writeFile(usr, 'unqualified-search-registries = ["127.0.0.1:5000"]\n');
    const c2 = await loadShortNameConfig({ env: { HOME: home }, systemDir: sys, aliasesFile: join(s.dir, 'absent.conf') });
    expect(c2.searchRegistries).toEqual(['127.0.0.1:5000']);
    expect(c2.searchOrigin).toBe(usr);
    expect(c2.aliases.a).toEqual({ value: '127.0.0.1:5000/a', origin: main });
    // no registries.conf at all: no origin (podman's "no containers-registries.conf(5) was found")
    const none = await loadShortNameConfig({ env: { HOME: home }, systemDir: join(s.dir, 'noetc'), aliasesFile: join(s.dir, 'absent.conf') });
    expect(none).toEqual({ searchRegistries: [], aliases: {}, mode: 'permissive' });
    await writeFile(main, 'short-name-mode = "strict"\n');
    await expect(loadShortNameConfig({ path: main, aliasesFile })).rejects.toMatchObject({ code: 'EINVALID' });
  });

  it('short-name-aliases.conf lives where podman keeps it: /var/cache for root, the user cache dir otherwise', () => {
    expect(shortNameAliasesPath({ HOME: '/root' }, 0)).toBe('/var/cache/containers/short-name-aliases.conf');
    expect(shortNameAliasesPath({ HOME: '/home/u' }, 1000)).toBe('/home/u/.cache/containers/short-name-aliases.conf');
    expect(shortNameAliasesPath({ HOME: '/home/u', XDG_CACHE_HOME: '/c' }, 1000)).toBe('/c/containers/short-name-aliases.conf');
    expect(shortNameAliasesPath({ HOME: '/home/u', SKIFF_USERNS: '1000:1000:full' }, 0)).toBe('/home/u/.cache/containers/short-name-aliases.conf');
  });
});
