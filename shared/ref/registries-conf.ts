import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { SkiffError, throwIfAborted } from '../errors.ts';
import { parseShortNameMode, type ShortNameAlias, type ShortNameConfig } from './short-name.ts';

/** One `[[registry.mirror]]` entry. */
export interface RegistryMirror {
  location: string;
  insecure: boolean;
}

/** One `[[registry]]` table of containers-registries.conf(5). `prefix` defaults to `location`. */
export interface RegistryEntry {
  prefix: string;
  location: string;
  insecure: boolean;
  blocked: boolean;
  mirrors: RegistryMirror[];
}

/** The parts of registries.conf skiff uses. */
export interface RegistriesConf {
  unqualifiedSearchRegistries: string[];
  registries: RegistryEntry[];
  shortNameMode?: string;
  /** `[aliases]`: short name → fully-qualified name ('' resets an alias an earlier file set). */
  aliases: Record<string, string>;
  /** The file each alias came from. */
  aliasOrigins?: Record<string, string>;
  /** The file whose `unqualified-search-registries` is in effect (the main file when no file set it). */
  searchRegistriesOrigin?: string;
  /** Files read, in merge order (empty when none existed). */
  files: string[];
}

type TomlValue = string | number | boolean | TomlValue[];

function syntax(file: string, line: number, msg: string): SkiffError {
  return new SkiffError('EINVALID', `invalid registries.conf ${file}:${line}: ${msg}`, {
    hint: 'see containers-registries.conf(5); skiff reads a TOML subset: strings, booleans, integers, arrays, [table] and [[array-of-tables]]',
  });
}

/**
 * A small TOML reader for the subset registries.conf uses: comments, `key = value` with basic/literal strings,
 * booleans, integers and (multi-line) arrays, `[table]` and `[[array.of.tables]]` headers, quoted keys.
 * Returns a list of (table path, key, value) assignments in file order. Unsupported syntax is EINVALID.
 */
function tomlAssignments(text: string, file: string): { table: string; arrayIndex: number; key: string; value: TomlValue; line: number }[] {
  const out: { table: string; arrayIndex: number; key: string; value: TomlValue; line: number }[] = [];
  let table = '';
  let arrayIndex = -1;
  let i = 0;
  let line = 1;
  const n = text.length;
  const counts = new Map<string, number>();

  const skipWs = (newlines: boolean) => {
    for (;;) {
      const c = text[i];
      if (c === ' ' || c === '\t' || c === '\r') i++;
      else if (newlines && c === '\n') {
        i++;
        line++;
      } else if (c === '#' && newlines) {
        while (i < n && text[i] !== '\n') i++;
      } else break;
    }
  };
  const endOfLine = () => {
    skipWs(false);
    if (text[i] === '#') while (i < n && text[i] !== '\n') i++;
    if (i < n && text[i] !== '\n') throw syntax(file, line, `unexpected ${JSON.stringify(text[i])}`);
  };
  const parseString = (): string => {
    const q = text[i]!;
    if (text.startsWith(q.repeat(3), i)) throw syntax(file, line, 'multi-line strings are not supported');
    i++;
    let s = '';
    while (i < n && text[i] !== q) {
      const c = text[i]!;
      if (c === '\n') throw syntax(file, line, 'unterminated string');
      if (q === '"' && c === '\\') {
        const e = text[i + 1];
        const map: Record<string, string> = { n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\', b: '\b', f: '\f' };
        if (e !== undefined && e in map) {
          s += map[e];
          i += 2;
        } else if (e === 'u' || e === 'U') {
          const len = e === 'u' ? 4 : 8;
          const hex = text.slice(i + 2, i + 2 + len);
          if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== len) throw syntax(file, line, 'bad unicode escape');
          s += String.fromCodePoint(parseInt(hex, 16));
          i += 2 + len;
        } else throw syntax(file, line, `bad escape \\${e ?? ''}`);
      } else {
        s += c;
        i++;
      }
    }
    if (i >= n) throw syntax(file, line, 'unterminated string');
    i++;
    return s;
  };
  const parseKey = (): string => {
    const c = text[i];
    if (c === '"' || c === "'") return parseString();
    const m = /^[A-Za-z0-9_-]+/.exec(text.slice(i, i + 256));
    if (!m) throw syntax(file, line, 'expected a key');
    i += m[0].length;
    return m[0];
  };
  const parseDottedKey = (): string => {
    const parts = [parseKey()];
    for (;;) {
      skipWs(false);
      if (text[i] !== '.') break;
      i++;
      skipWs(false);
      parts.push(parseKey());
    }
    return parts.join('.');
  };
  const parseValue = (depth: number): TomlValue => {
    if (depth > 8) throw syntax(file, line, 'arrays nested too deeply');
    const c = text[i];
    if (c === '"' || c === "'") return parseString();
    if (c === '[') {
      i++;
      const arr: TomlValue[] = [];
      for (;;) {
        skipWs(true);
        if (text[i] === ']') {
          i++;
          return arr;
        }
        arr.push(parseValue(depth + 1));
        skipWs(true);
        if (text[i] === ',') i++;
        else if (text[i] !== ']') throw syntax(file, line, 'expected "," or "]" in array');
      }
    }
    if (c === '{') throw syntax(file, line, 'inline tables are not supported');
    const m = /^(true|false|[+-]?[0-9][0-9_]*)(?=[\s,\]#]|$)/.exec(text.slice(i, i + 64));
    if (!m) throw syntax(file, line, 'expected a string, boolean, integer or array');
    i += m[0].length;
    if (m[0] === 'true') return true;
    if (m[0] === 'false') return false;
    return Number(m[0].replace(/_/g, ''));
  };

  for (;;) {
    skipWs(true);
    if (i >= n) break;
    if (text[i] === '[') {
      const double = text[i + 1] === '[';
      i += double ? 2 : 1;
      skipWs(false);
      table = parseDottedKey();
      skipWs(false);
      if (!text.startsWith(double ? ']]' : ']', i)) throw syntax(file, line, 'unterminated table header');
      i += double ? 2 : 1;
      if (double) {
        const k = (counts.get(table) ?? 0) + 1;
        counts.set(table, k);
        arrayIndex = k - 1;
      } else arrayIndex = -1;
      endOfLine();
      continue;
    }
    const key = parseDottedKey();
    skipWs(false);
    if (text[i] !== '=') throw syntax(file, line, `expected "=" after key ${JSON.stringify(key)}`);
    i++;
    skipWs(false);
    const at = line;
    const value = parseValue(0);
    endOfLine();
    out.push({ table, arrayIndex, key, value, line: at });
  }
  return out;
}

function str(v: TomlValue, file: string, line: number, key: string): string {
  if (typeof v !== 'string') throw syntax(file, line, `${key} must be a string`);
  return v;
}
function bool(v: TomlValue, file: string, line: number, key: string): boolean {
  if (typeof v !== 'boolean') throw syntax(file, line, `${key} must be a boolean`);
  return v;
}
function strArray(v: TomlValue, file: string, line: number, key: string): string[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw syntax(file, line, `${key} must be an array of strings`);
  return v as string[];
}

/**
 * Parses one registries.conf text (version 2 format; the version 1 `[registries.search|insecure|block]` tables are
 * mapped too). Unknown keys and tables are ignored (forward compatible);
 * wrong value types are EINVALID. `prefix` defaults to `location`; a registry with neither is EINVALID.
 * Pure: no I/O.
 */
export function parseRegistriesConf(text: string, file = 'registries.conf'): RegistriesConf {
  const conf: RegistriesConf = { unqualifiedSearchRegistries: [], registries: [], aliases: {}, aliasOrigins: {}, searchRegistriesOrigin: file, files: [file] };
  const regs: (Partial<RegistryEntry> & { mirrors: RegistryMirror[]; line: number })[] = [];
  const mirrorsSeen: Partial<RegistryMirror>[][] = [];
  let mirrorBase = 0;
  let lastRegIndex = -1;
  for (const a of tomlAssignments(text, file)) {
    if (a.table === '') {
      if (a.key === 'unqualified-search-registries') conf.unqualifiedSearchRegistries = strArray(a.value, file, a.line, a.key);
      else if (a.key === 'short-name-mode') conf.shortNameMode = str(a.value, file, a.line, a.key);
    } else if (a.table === 'registries.search' && a.key === 'registries') {
      // version 1 format
      conf.unqualifiedSearchRegistries = strArray(a.value, file, a.line, a.key);
    } else if ((a.table === 'registries.insecure' || a.table === 'registries.block') && a.key === 'registries') {
      for (const loc of strArray(a.value, file, a.line, a.key)) {
        regs.push({ location: loc, ...(a.table === 'registries.insecure' ? { insecure: true } : { blocked: true }), mirrors: [], line: a.line });
      }
    } else if (a.table === 'aliases') {
      conf.aliases[a.key] = str(a.value, file, a.line, a.key);
      conf.aliasOrigins![a.key] = file;
    } else if (a.table === 'registry' && a.arrayIndex >= 0) {
      while (regs.length <= a.arrayIndex) regs.push({ mirrors: [], line: a.line });
      lastRegIndex = a.arrayIndex;
      const r = regs[a.arrayIndex]!;
      if (a.key === 'prefix') r.prefix = str(a.value, file, a.line, a.key);
      else if (a.key === 'location') r.location = str(a.value, file, a.line, a.key);
      else if (a.key === 'insecure') r.insecure = bool(a.value, file, a.line, a.key);
      else if (a.key === 'blocked') r.blocked = bool(a.value, file, a.line, a.key);
    } else if (a.table === 'registry.mirror' && a.arrayIndex >= 0) {
      // [[registry.mirror]] belongs to the latest [[registry]]; its arrayIndex counts globally.
      if (lastRegIndex < 0) throw syntax(file, a.line, '[[registry.mirror]] before any [[registry]]');
      const list = (mirrorsSeen[lastRegIndex] ??= []);
      if (list.length === 0) mirrorBase = a.arrayIndex;
      const idx = a.arrayIndex - mirrorBase;
      while (list.length <= idx) list.push({});
      const m = list[idx]!;
      if (a.key === 'location') m.location = str(a.value, file, a.line, a.key);
      else if (a.key === 'insecure') m.insecure = bool(a.value, file, a.line, a.key);
    }
  }
  regs.forEach((r, i) => {
    const location = r.location ?? '';
    const prefix = r.prefix ?? location;
    if (prefix === '' && location === '') throw syntax(file, r.line, '[[registry]] needs a prefix or a location');
    const mirrors = (mirrorsSeen[i] ?? []).map((m) => {
      if (m.location === undefined || m.location === '') throw syntax(file, r.line, '[[registry.mirror]] needs a location');
      return { location: m.location, insecure: m.insecure ?? false };
    });
    conf.registries.push({ prefix, location, insecure: r.insecure ?? false, blocked: r.blocked ?? false, mirrors });
  });
  return conf;
}

/**
 * Merges drop-ins over a base as containers/image does: a later file's `unqualified-search-registries`,
 * `short-name-mode` replace earlier ones when set; registries with the same prefix are replaced; aliases merged.
 */
export function mergeRegistriesConf(base: RegistriesConf, over: RegistriesConf, overSetsSearch: boolean): RegistriesConf {
  const regs = base.registries.filter((r) => !over.registries.some((o) => o.prefix === r.prefix));
  const out: RegistriesConf = {
    unqualifiedSearchRegistries: overSetsSearch ? over.unqualifiedSearchRegistries : base.unqualifiedSearchRegistries,
    registries: [...regs, ...over.registries],
    aliases: { ...base.aliases, ...over.aliases },
    aliasOrigins: { ...base.aliasOrigins, ...over.aliasOrigins },
    files: [...base.files, ...over.files],
  };
  const origin = overSetsSearch ? over.searchRegistriesOrigin : base.searchRegistriesOrigin;
  if (origin !== undefined) out.searchRegistriesOrigin = origin;
  const mode = over.shortNameMode ?? base.shortNameMode;
  if (mode !== undefined) out.shortNameMode = mode;
  return out;
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new SkiffError('EIO', `cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Loads registries.conf: `opts.path` (or $CONTAINERS_REGISTRIES_CONF) when given — it must exist; else
 * `$HOME/.config/containers/registries.conf` when it exists, else `/etc/containers/registries.conf`; then the
 * `*.conf` drop-ins of the `registries.conf.d` directory beside the chosen file, in lexical order. A missing
 * default file yields an empty configuration. Read-only; never writes.
 */
export async function loadRegistriesConf(
  opts: { path?: string; env?: NodeJS.ProcessEnv; systemDir?: string; signal?: AbortSignal } = {},
): Promise<RegistriesConf> {
  throwIfAborted(opts.signal);
  const env = opts.env ?? process.env;
  const explicit = opts.path ?? env.CONTAINERS_REGISTRIES_CONF;
  let file: string | undefined;
  let text: string | undefined;
  if (explicit !== undefined && explicit !== '') {
    text = await readIfExists(explicit);
    if (text === undefined) throw new SkiffError('ENOTFOUND', `registries configuration ${explicit} does not exist`);
    file = explicit;
  } else {
    const candidates = [
      ...(env.HOME ? [join(env.HOME, '.config/containers/registries.conf')] : []),
      join(opts.systemDir ?? '/etc/containers', 'registries.conf'),
    ];
    for (const c of candidates) {
      text = await readIfExists(c);
      if (text !== undefined) {
        file = c;
        break;
      }
    }
  }
  let conf: RegistriesConf = text === undefined || file === undefined ? { unqualifiedSearchRegistries: [], registries: [], aliases: {}, files: [] } : parseRegistriesConf(text, file);
  if (file !== undefined && (explicit === undefined || explicit === '')) {
    const dropDir = `${file}.d`;
    let names: string[] = [];
    try {
      names = (await readdir(dropDir)).filter((x) => x.endsWith('.conf')).sort();
    } catch {
      names = [];
    }
    for (const name of names) {
      throwIfAborted(opts.signal);
      const p = join(dropDir, name);
      const t = await readIfExists(p);
      if (t === undefined) continue;
      const d = parseRegistriesConf(t, p);
      conf = mergeRegistriesConf(conf, d, /^\s*unqualified-search-registries\s*=/m.test(t));
    }
  }
  return conf;
}

/**
 * podman's machine-written alias file: `/var/cache/containers/short-name-aliases.conf` for root, else
 * `${XDG_CACHE_HOME:-$HOME/.cache}/containers/short-name-aliases.conf` (also inside skiff's rootless namespace,
 * marked by SKIFF_USERNS, where the process is uid 0 but the user is not). Pure.
 */
export function shortNameAliasesPath(env: NodeJS.ProcessEnv = process.env, euid: number = process.geteuid?.() ?? 0): string {
  const rootless = euid !== 0 || (env.SKIFF_USERNS ?? '') !== '';
  if (!rootless) return '/var/cache/containers/short-name-aliases.conf';
  const cache = env.XDG_CACHE_HOME || join(env.HOME ?? '/', '.cache');
  return join(cache, 'containers/short-name-aliases.conf');
}

/**
 * Loads what short-name resolution needs: registries.conf as loadRegistriesConf finds it (search registries,
 * the file that set them, `short-name-mode`, `[aliases]`), then the aliases of short-name-aliases.conf
 * (`opts.aliasesFile`, default shortNameAliasesPath), which win. A missing or unreadable alias file adds
 * nothing; an invalid `short-name-mode` is EINVALID. Read-only.
 */
export async function loadShortNameConfig(
  opts: { path?: string; env?: NodeJS.ProcessEnv; systemDir?: string; aliasesFile?: string; signal?: AbortSignal } = {},
): Promise<ShortNameConfig> {
  const { aliasesFile, ...rest } = opts;
  const conf = await loadRegistriesConf(rest);
  const main = conf.files[0];
  const aliases: Record<string, ShortNameAlias> = {};
  for (const [k, v] of Object.entries(conf.aliases)) aliases[k] = { value: v, origin: conf.aliasOrigins?.[k] ?? main ?? 'registries.conf' };
  const file = aliasesFile ?? shortNameAliasesPath(opts.env ?? process.env);
  let text: string | undefined;
  try {
    text = await readIfExists(file);
  } catch {
    text = undefined; // e.g. a root-only cache directory: no recorded aliases for this user
  }
  if (text !== undefined) {
    for (const [k, v] of Object.entries(parseRegistriesConf(text, file).aliases)) aliases[k] = { value: v, origin: file };
  }
  return {
    searchRegistries: conf.unqualifiedSearchRegistries,
    ...(main !== undefined ? { searchOrigin: conf.searchRegistriesOrigin ?? main } : {}),
    aliases,
    mode: parseShortNameMode(conf.shortNameMode, main),
  };
}

/**
 * The `[[registry]]` entry governing a name (`host[:port]/path`): the longest matching prefix, where a prefix
 * matches at a `/` boundary (or exactly, or before `:`/`@`), and `*.example.com` matches any subdomain host.
 * Undefined when none matches.
 */
export function findRegistry(conf: RegistriesConf, name: string): RegistryEntry | undefined {
  let best: RegistryEntry | undefined;
  let bestLen = -1;
  const host = name.split('/', 1)[0]!;
  for (const r of conf.registries) {
    let len = -1;
    if (r.prefix.startsWith('*.')) {
      const hostOnly = host.split(':', 1)[0]!;
      if (hostOnly.endsWith(r.prefix.slice(1))) len = r.prefix.length;
    } else if (name === r.prefix || (name.startsWith(r.prefix) && /^[/:@]/.test(name.slice(r.prefix.length)))) {
      len = r.prefix.length;
    }
    if (len > bestLen) {
      best = r;
      bestLen = len;
    }
  }
  return best;
}
