import { Option, type Command } from 'commander';
import { SkiffError } from '../errors.ts';

/** Go's strconv.ParseBool (what the peers' flags accept): the value, or undefined for anything else. Pure. */
export function goBool(v: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  return undefined;
}

/** Go-style boolean flag value as podman and skopeo accept it: `--tls-verify`, `--tls-verify=false`. EINVALID otherwise. */
export function parseBool(v: string | undefined): boolean {
  if (v === undefined || v === '') return true;
  const b = goBool(v);
  if (b === undefined) throw new SkiffError('EINVALID', `invalid boolean value ${JSON.stringify(v)}: use true or false`);
  return b;
}

/** Adds a `--NAME[=BOOL]` option to `cmd`. */
export function boolOption(cmd: Command, flag: string, description: string): Command {
  return cmd.addOption(new Option(`${flag} [bool]`, description).argParser(parseBool));
}

/** Commander reducer for a repeatable option (`-e A -e B` → `['A', 'B']`); pass `[]` as the default. */
export function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

/**
 * Repeated `KEY=VALUE` flag values (`--label`, `--opt`) as a record; a bare `KEY` maps to '', the last value of a
 * key wins. EINVALID naming the flag (`what`) for an empty key. Pure.
 */
export function keyValueFlags(list: readonly string[], what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list) {
    const i = kv.indexOf('=');
    const k = i < 0 ? kv : kv.slice(0, i);
    if (k === '') throw new SkiffError('EINVALID', `invalid ${what} ${JSON.stringify(kv)}: expected KEY=VALUE`);
    out[k] = i < 0 ? '' : kv.slice(i + 1);
  }
  return out;
}

/**
 * A comma-separated option value as BuildKit and podman spell them (`type=registry,ref=R,mode=max`, `id=x,src=y`):
 * each part's key up to its first `=`, its value after it ('' for a bare key). A later key wins. Pure.
 */
export function csvOptions(s: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const part of s.split(',')) {
    const i = part.indexOf('=');
    m.set(i < 0 ? part : part.slice(0, i), i < 0 ? '' : part.slice(i + 1));
  }
  return m;
}
