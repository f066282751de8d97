// Reading systemd unit files (and Quadlet's .container/.volume/.network/.kube/.pod, which share the syntax):
// sections, keys with the line each came from, `\` continuation lines, comments, and drop-in directories
// (`NAME.d/*.conf`, applied in name order after the file). Pure but for readUnitFile's reads.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** One `Key=Value` entry and where it was written. */
export interface UnitEntry {
  key: string;
  value: string;
  file: string;
  line: number;
}

/** A parsed unit: section name → entries in order (a key may repeat). */
export interface UnitFile {
  path: string;
  sections: Map<string, UnitEntry[]>;
}

/** A syntax error: `file:line: message`. */
export interface UnitError {
  file: string;
  line: number;
  message: string;
}

/** Parses `text` (from `file`) into `into` (a drop-in adds to what is there); pushes syntax errors to `errors`. Pure. */
export function parseUnitText(text: string, file: string, into: Map<string, UnitEntry[]>, errors: UnitError[]): void {
  const lines = text.split('\n');
  let section: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const start = i + 1;
    let l = lines[i]!.trim();
    while (l.endsWith('\\') && i + 1 < lines.length) {
      i++;
      const next = lines[i]!.trim();
      if (next.startsWith('#') || next.startsWith(';')) continue;
      l = `${l.slice(0, -1)} ${next}`;
    }
    if (l === '' || l.startsWith('#') || l.startsWith(';')) continue;
    if (l.startsWith('[')) {
      if (!l.endsWith(']')) {
        errors.push({ file, line: start, message: `invalid section header ${JSON.stringify(l)}` });
        section = undefined;
        continue;
      }
      section = l.slice(1, -1);
      if (!into.has(section)) into.set(section, []);
      continue;
    }
    const eq = l.indexOf('=');
    if (eq <= 0) {
      errors.push({ file, line: start, message: `invalid line ${JSON.stringify(l)}: want Key=Value` });
      continue;
    }
    if (section === undefined) {
      errors.push({ file, line: start, message: `key ${l.slice(0, eq).trim()} outside of any section` });
      continue;
    }
    into.get(section)!.push({ key: l.slice(0, eq).trim(), value: l.slice(eq + 1).trim(), file, line: start });
  }
}

/** Reads `path` and its drop-ins (`path.d/*.conf`, name order). Syntax errors go to `errors`. */
export async function readUnitFile(path: string, errors: UnitError[]): Promise<UnitFile> {
  const sections = new Map<string, UnitEntry[]>();
  parseUnitText(await readFile(path, 'utf8'), path, sections, errors);
  const dropDir = `${path}.d`;
  const drops = (await readdir(dropDir).catch(() => [] as string[])).filter((n) => n.endsWith('.conf')).sort();
  for (const d of drops) parseUnitText(await readFile(join(dropDir, d), 'utf8'), join(dropDir, d), sections, errors);
  return { path, sections };
}

/**
 * Splits a value into words as systemd does for Exec lines: whitespace separates, single and double quotes group,
 * backslash escapes inside double quotes and outside. Undefined for an unterminated quote. Pure.
 */
export function splitWords(value: string): string[] | undefined {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < value.length) cur += value[++i];
      else cur += c;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else if (c === '\\' && i + 1 < value.length) {
      cur += value[++i];
      inWord = true;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quote) return undefined;
  if (inWord) out.push(cur);
  return out;
}
