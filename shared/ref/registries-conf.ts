import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { SkiffError, throwIfAborted } from '../errors.ts';
import { keyLine, parseTomlFile, tableOf } from '../config/toml.ts';
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

function syntax(file: string, line: number, msg: string): SkiffError {
  return new SkiffError('EINVALID', `invalid registries.conf ${file}:${line}: ${msg}`, { hint: 'see containers-registries.conf(5)' });
}

/** The 1-based line of the `n`-th (0-based) `[[registry]]` header of `text`, or 1. Pure. */
function registryHeaderLine(text: string, n: number): number {
  const lines = text.split('\n');
  let seen = -1;
  for (let i = 0; i < lines.length; i++) if (/^\s*\[\[\s*registry\s*\]\]/.test(lines[i]!) && ++seen === n) return i + 1;
  return 1;
}

/**
 * Parses one registries.conf text (version 2 format; the version 1 `[registries.search|insecure|block]` tables are
 * mapped too) with a real TOML parser (parseTomlFile). Unknown keys and tables are ignored (forward compatible);
 * a syntax error or a wrong value type is EINVALID naming `file:line`. `prefix` defaults to `location`; a registry
 * with neither is EINVALID. Pure: no I/O. Line numbers are looked up only for an error (a drop-in with many
 * aliases parses in linear time).
 */
export function parseRegistriesConf(text: string, file = 'registries.conf'): RegistriesConf {
  const doc = parseTomlFile(text, file, 'registries.conf');
  const conf: RegistriesConf = { unqualifiedSearchRegistries: [], registries: [], aliases: {}, aliasOrigins: {}, searchRegistriesOrigin: file, files: [file] };
  const str = (v: unknown, key: string, line: () => number): string => {
    if (typeof v !== 'string') throw syntax(file, line(), `${key} must be a string`);
    return v;
  };
  const bool = (v: unknown, key: string, line: () => number): boolean | undefined => {
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') throw syntax(file, line(), `${key} must be a boolean`);
    return v;
  };
  const strArray = (v: unknown, key: string, line: () => number): string[] => {
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw syntax(file, line(), `${key} must be an array of strings`);
    return v as string[];
  };
  if (doc['unqualified-search-registries'] !== undefined) {
    conf.unqualifiedSearchRegistries = strArray(doc['unqualified-search-registries'], 'unqualified-search-registries', () => keyLine(text, 'unqualified-search-registries'));
  }
  if (doc['short-name-mode'] !== undefined) conf.shortNameMode = str(doc['short-name-mode'], 'short-name-mode', () => keyLine(text, 'short-name-mode'));
  // version 1 format
  const v1 = tableOf(doc, 'registries');
  if (v1) {
    const search = tableOf(v1, 'search');
    if (search?.registries !== undefined) conf.unqualifiedSearchRegistries = strArray(search.registries, 'registries', () => keyLine(text, 'registries'));
    for (const kind of ['insecure', 'block'] as const) {
      const t = tableOf(v1, kind);
      if (t?.registries === undefined) continue;
      for (const loc of strArray(t.registries, 'registries', () => keyLine(text, 'registries'))) {
        conf.registries.push({ prefix: loc, location: loc, insecure: kind === 'insecure', blocked: kind === 'block', mirrors: [] });
      }
    }
  }
  for (const [k, v] of Object.entries(tableOf(doc, 'aliases') ?? {})) {
    conf.aliases[k] = str(v, k, () => keyLine(text, k));
    conf.aliasOrigins![k] = file;
  }
  const regs = Array.isArray(doc.registry) ? (doc.registry as unknown[]) : [];
  regs.forEach((raw, i) => {
    let line: number | undefined;
    const at = (): number => (line ??= registryHeaderLine(text, i));
    const r = (raw ?? {}) as Record<string, unknown>;
    const location = r.location === undefined ? '' : str(r.location, 'location', () => keyLine(text, 'location', at()));
    const prefix = r.prefix === undefined ? location : str(r.prefix, 'prefix', () => keyLine(text, 'prefix', at()));
    const insecure = bool(r.insecure, 'insecure', () => keyLine(text, 'insecure', at())) ?? false;
    const blocked = bool(r.blocked, 'blocked', () => keyLine(text, 'blocked', at())) ?? false;
    if (prefix === '' && location === '') throw syntax(file, at(), '[[registry]] needs a prefix or a location');
    const mirrors = (Array.isArray(r.mirror) ? (r.mirror as Record<string, unknown>[]) : []).map((m) => {
      if (typeof m.location !== 'string' || m.location === '') throw syntax(file, at(), '[[registry.mirror]] needs a location');
      return { location: m.location, insecure: bool(m.insecure, 'insecure', () => keyLine(text, 'insecure', at())) ?? false };
    });
    conf.registries.push({ prefix, location, insecure, blocked, mirrors });
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

/** Parsed files by path and exact text (a few entries): a process opening many repositories parses each file once. */
const parsed = new Map<string, RegistriesConf>();
const PARSED_MAX = 16;

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}

/**
 * parseRegistriesConf, memoised on the file's path and its exact text (the file is still read every time, so an
 * edit is seen at once). The result is frozen: callers share it.
 */
function parseCached(text: string, file: string): RegistriesConf {
  const key = `${file}\0${text}`;
  let conf = parsed.get(key);
  if (conf === undefined) {
    conf = deepFreeze(parseRegistriesConf(text, file));
    if (parsed.size >= PARSED_MAX) parsed.delete(parsed.keys().next().value!);
    parsed.set(key, conf);
  }
  return conf;
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
 * default file yields an empty configuration. Read-only; never writes. Files are read on every call and parsed
 * once per distinct text; the result may be shared (frozen parts), so callers must not modify it.
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
  let conf: RegistriesConf = text === undefined || file === undefined ? { unqualifiedSearchRegistries: [], registries: [], aliases: {}, files: [] } : parseCached(text, file);
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
      const d = parseCached(t, p);
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
