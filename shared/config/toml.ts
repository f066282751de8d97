import { parse, TomlError } from 'smol-toml';
import { SkiffError } from '../errors.ts';

/** A parsed TOML document: tables are plain objects. */
export type TomlTable = Record<string, unknown>;

/** A whole-line comment that TOML accepts (no control character but tab in it). */
const COMMENT_LINE = /^[ \t]*#[\t\x20-\x7e\x80-\uffff]*$/gm;

/**
 * `text` with every whole-line comment emptied, so the parser skips the commentary that makes up most of a
 * distribution's containers.conf (24 kB, 98 % comments): same document, same line numbers for errors. Text holding
 * a multi-line string is returned as is (a line starting with `#` may be part of the string there). Pure.
 */
export function withoutCommentLines(text: string): string {
  if (text.includes('"""') || text.includes("'''")) return text;
  return text.replace(COMMENT_LINE, '');
}

/**
 * Parses a whole TOML document with smol-toml (TOML 1.0). A syntax error is EINVALID with one line naming
 * `file:line` and the parser's reason; `what` names the kind of file (`containers.conf`, …) for the hint. Pure.
 */
export function parseTomlFile(text: string, file: string, what: string): TomlTable {
  try {
    return parse(withoutCommentLines(text)) as TomlTable;
  } catch (e) {
    if (e instanceof TomlError) {
      const reason = e.message.split('\n', 1)[0]!.replace(/^Invalid TOML document:\s*/i, '');
      throw new SkiffError('EINVALID', `invalid ${what} ${file}:${e.line}: ${reason}`, { hint: `fix the TOML syntax of ${file}` });
    }
    throw e;
  }
}

/** A sub-table of `t` (undefined when absent or not a table). Pure. */
export function tableOf(t: TomlTable, key: string): TomlTable | undefined {
  const v = t[key];
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date) ? (v as TomlTable) : undefined;
}

/** The 1-based line where `key` is assigned at or after line `from` (to name the line of a wrong value type). Pure. */
export function keyLine(text: string, key: string, from = 1): number {
  const lines = text.split('\n');
  const esc = key.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');
  const re = new RegExp(`^\\s*(?:${esc}|"${esc}"|'${esc}')\\s*=`);
  for (let i = from - 1; i < lines.length; i++) if (re.test(lines[i]!)) return i + 1;
  return from;
}
