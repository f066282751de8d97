import { Option, type Command } from 'commander';
import { SkiffError } from '../errors.ts';

/** Go-style boolean flag value as podman and skopeo accept it: `--tls-verify`, `--tls-verify=false`. EINVALID otherwise. */
export function parseBool(v: string | undefined): boolean {
  if (v === undefined || v === '' || v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new SkiffError('EINVALID', `invalid boolean value ${JSON.stringify(v)}: use true or false`);
}

/** Adds a `--NAME[=BOOL]` option to `cmd`. */
export function boolOption(cmd: Command, flag: string, description: string): Command {
  return cmd.addOption(new Option(`${flag} [bool]`, description).argParser(parseBool));
}

/** Commander reducer for a repeatable option (`-e A -e B` → `['A', 'B']`); pass `[]` as the default. */
export function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}
