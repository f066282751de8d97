import { SkiffError } from '../errors.ts';
import { execute, TemplateExecError } from './go-template/exec.ts';
import { FUNCS } from './go-template/funcs.ts';
import { parseTemplate, TemplateParseError, type ParsedTemplates } from './go-template/parse.ts';
import { tabwrite } from './go-template/tabwriter.ts';

import { goMap } from './go-template/value.ts';

export { goMap, goType } from './go-template/value.ts';
export { goTimeString } from './go-template/fmt.ts';

/**
 * Go's text/template for every `--format`: the whole action language (see go-template/parse.ts and exec.ts), Go's
 * builtins with fmt's verbs for printf, podman's functions (json, lower, upper, title, split, join, truncate, pad),
 * and Go's errors: a parse error is thrown by `parseGoTemplate`, an execution error (`{{.Nope}}` on a struct:
 * "can't evaluate field Nope in type …") by `render`, both as SkiffError EINVALID (run-tool exits 125) carrying
 * Go's message. A map without the key renders `<no value>` as Go does. The escapes `\t` and `\n` typed on a
 * command line become tab and newline, as podman does.
 */
export interface Template {
  /** Executes the template with `data` as dot and `$`; throws SkiffError EINVALID with Go's message. */
  render(data: unknown): string;
}

const FUNC_NAMES: ReadonlySet<string> = new Set(FUNCS.keys());

function parseWrapped(name: string, text: string): ParsedTemplates {
  try {
    return parseTemplate(name, text, FUNC_NAMES);
  } catch (e) {
    if (e instanceof TemplateParseError) throw new SkiffError('EINVALID', e.message);
    throw e;
  }
}

function run(name: string, text: string, parsed: ParsedTemplates, data: unknown): string {
  try {
    return execute(name, text, parsed, data);
  } catch (e) {
    if (e instanceof TemplateExecError) throw new SkiffError('EINVALID', e.message);
    throw e;
  }
}

const unescape = (f: string): string => f.replace(/\\t/g, '\t').replace(/\\n/g, '\n');

/** Parses a Go-template format string (named `name` in messages, as podman names it after its command). */
export function parseGoTemplate(format: string, o: { name?: string } = {}): Template {
  const name = o.name ?? '';
  const text = unescape(format);
  const parsed = parseWrapped(name, text);
  return { render: (data) => run(name, text, parsed, data) };
}

/** True when `format` is podman's table form (`table {{.ID}}…`): a header row and tabwriter-aligned columns. */
export function isTableFormat(format: string): boolean {
  return format.startsWith('table ');
}

/**
 * The header row data of a `table` format: every field of `sample` under its name split at case changes and
 * upper-cased (`CreatedAt` → `CREATED AT`), as podman's report.Headers does, then `overrides` (upper-cased; a
 * null override leaves the field out, so it renders `<no value>` as podman's own header maps do).
 */
export function tableHeaders(sample: object, overrides: Record<string, string | null> = {}): Record<string, string> {
  const h: Record<string, string> = {};
  for (const k of Object.keys(sample)) h[k] = splitCamel(k).join(' ').toUpperCase();
  for (const [k, v] of Object.entries(overrides)) {
    if (v === null) delete h[k];
    else h[k] = v.toUpperCase();
  }
  return goMap(h);
}

/** Splits an identifier at case changes the way podman's camelcase package does: `ImageID` → Image, ID. */
export function splitCamel(s: string): string[] {
  const cls = (c: string): number => (/\p{Lu}/u.test(c) ? 1 : /\p{Ll}/u.test(c) ? 2 : /\p{Nd}/u.test(c) ? 3 : 4);
  const runs: string[] = [];
  let last = 0;
  for (const ch of s) {
    const c = cls(ch);
    if (runs.length > 0 && c === last) runs[runs.length - 1] += ch;
    else runs.push(ch);
    last = c;
  }
  // an upper-case run followed by a lower-case run gives its last letter to it: HTTPServer → HTTP Server
  for (let i = 0; i < runs.length - 1; i++) {
    const a = [...runs[i]!];
    if (cls(a[0]!) === 1 && cls([...runs[i + 1]!][0]!) === 2) {
      runs[i + 1] = a.pop()! + runs[i + 1]!;
      runs[i] = a.join('');
    }
  }
  return runs.filter((r) => r !== '');
}

/**
 * Renders `rows` with a `--format` string exactly as podman's report formatter does: the text is wrapped in
 * `{{range .}}…{{end}}` (skopeo's spelling: `rangeAction`) and ends with a newline; `table …` turns spaces and `\t` into column breaks, renders a
 * header row from `headers` (unless `noHeading`) and aligns columns like Go's tabwriter. Errors carry Go's
 * message with the template named `name` (`template: ps:1:13: executing "ps" at <.Nope>: …`); nothing is
 * returned half-rendered.
 */
export function formatReport(format: string, rows: readonly unknown[], o: { name: string; headers?: Record<string, string>; noHeading?: boolean; rangeAction?: string }): string {
  const table = isTableFormat(format);
  let text = table ? format.split('table ').join('').replace(/\\t/g, '\t').replace(/\\n/g, '\n').replace(/ /g, '\t') : unescape(format);
  if (text.length > 0 && !text.endsWith('\n')) text += '\n';
  const wrapped = `${o.rangeAction ?? '{{range .}}'}${text}{{end -}}`;
  let parsed: ParsedTemplates;
  try {
    parsed = parseWrapped(o.name, wrapped);
  } catch (e) {
    // podman's Go counts an error found at the closing {{end -}} on the line before it (the format's own last line)
    const lines = wrapped.split('\n').length;
    if (e instanceof SkiffError && e.message.startsWith(`template: ${o.name}:${lines}: `)) {
      throw new SkiffError('EINVALID', e.message.replace(`:${lines}: `, `:${lines - 1}: `));
    }
    throw e;
  }
  const body = run(o.name, wrapped, parsed, rows);
  if (!table) return body;
  const header = o.noHeading ? '' : run(o.name, wrapped, parsed, [goMap({ ...(o.headers ?? (rows[0] ? tableHeaders(rows[0]) : {})) })]);
  return tabwrite(header + body);
}
