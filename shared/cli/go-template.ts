import { SkiffError } from '../errors.ts';

/**
 * A Go text/template subset, enough for the `--format` strings podman and skopeo users write:
 * `{{.Field.Sub}}`, `{{.}}`, `{{json .X}}`, `{{index .Map "key"}}`, `{{join .List ","}}`, `{{upper .X}}`,
 * `{{lower .X}}`, `{{len .X}}`, `{{printf "%s-%d" .A .B}}`, `{{range .List}}…{{end}}` (with `.` rebound),
 * `{{if .X}}…{{else}}…{{end}}`, `{{println}}`, `{{- trim markers -}}`. Escapes `\t` and `\n` in the format are
 * turned into tab and newline as podman does. Parsing is done once; rendering never throws on missing fields
 * (Go prints `<no value>`; podman users expect empty output, so missing fields render as "").
 */
export interface Template {
  render(data: unknown): string;
}

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'action'; pipe: Arg[] }
  | { kind: 'range'; pipe: Arg[]; body: Node[]; elseBody: Node[] }
  | { kind: 'if'; pipe: Arg[]; body: Node[]; elseBody: Node[] };

type Arg = { kind: 'path'; path: string[] } | { kind: 'str'; value: string } | { kind: 'num'; value: number } | { kind: 'ident'; name: string };

/** Parses a Go-template format string; EINVALID with the position on a syntax error. */
export function parseGoTemplate(format: string): Template {
  const src = format.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  const tokens = tokenize(src);
  let i = 0;
  function parseList(stopAt: string[]): { nodes: Node[]; stop: string } {
    const nodes: Node[] = [];
    while (i < tokens.length) {
      const t = tokens[i++]!;
      if (t.kind === 'text') {
        nodes.push({ kind: 'text', text: t.text });
        continue;
      }
      const words = splitArgs(t.text);
      const head = words[0] ?? '';
      if (stopAt.includes(head)) return { nodes, stop: head };
      if (head === 'range' || head === 'if') {
        const pipe = words.slice(1).map(parseArg);
        const body = parseList(['else', 'end']);
        let elseBody: Node[] = [];
        if (body.stop === 'else') elseBody = parseList(['end']).nodes;
        nodes.push({ kind: head, pipe, body: body.nodes, elseBody });
        continue;
      }
      if (head === 'end' || head === 'else') throw new SkiffError('EINVALID', `template: unexpected {{${head}}} in ${JSON.stringify(format)}`);
      nodes.push({ kind: 'action', pipe: words.map(parseArg) });
    }
    if (stopAt.length > 0) throw new SkiffError('EINVALID', `template: missing {{end}} in ${JSON.stringify(format)}`);
    return { nodes, stop: '' };
  }
  const { nodes } = parseList([]);
  return { render: (data) => renderNodes(nodes, data) };
}

function tokenize(src: string): ({ kind: 'text'; text: string } | { kind: 'action'; text: string })[] {
  const out: ({ kind: 'text'; text: string } | { kind: 'action'; text: string })[] = [];
  let pos = 0;
  while (pos < src.length) {
    const open = src.indexOf('{{', pos);
    if (open < 0) {
      out.push({ kind: 'text', text: src.slice(pos) });
      break;
    }
    let text = src.slice(pos, open);
    const close = src.indexOf('}}', open + 2);
    if (close < 0) throw new SkiffError('EINVALID', `template: unclosed action in ${JSON.stringify(src)}`);
    let inner = src.slice(open + 2, close);
    if (inner.startsWith('-')) {
      text = text.trimEnd();
      inner = inner.slice(1);
    }
    let next = close + 2;
    if (inner.endsWith('-')) {
      inner = inner.slice(0, -1);
      while (next < src.length && /\s/.test(src[next]!)) next++;
    }
    if (text) out.push({ kind: 'text', text });
    out.push({ kind: 'action', text: inner.trim() });
    pos = next;
  }
  return out;
}

function splitArgs(s: string): string[] {
  const out: string[] = [];
  const re = /"(?:[^"\\]|\\.)*"|`[^`]*`|[^\s]+/g;
  for (const m of s.matchAll(re)) out.push(m[0]);
  return out;
}

function parseArg(w: string): Arg {
  if (w.startsWith('"')) return { kind: 'str', value: JSON.parse(w) as string };
  if (w.startsWith('`')) return { kind: 'str', value: w.slice(1, -1) };
  if (/^-?\d+(\.\d+)?$/.test(w)) return { kind: 'num', value: Number(w) };
  if (w === '.') return { kind: 'path', path: [] };
  if (w.startsWith('.')) return { kind: 'path', path: w.slice(1).split('.') };
  if (w.startsWith('$.')) return { kind: 'path', path: w.slice(2).split('.') };
  return { kind: 'ident', name: w };
}

function lookup(data: unknown, path: string[]): unknown {
  let v: unknown = data;
  for (const key of path) {
    if (v === null || v === undefined || typeof v !== 'object') return undefined;
    const obj = v as Record<string, unknown>;
    if (key in obj) v = obj[key];
    else {
      // Go field names are case-sensitive, but JSON-tagged views are often lower case: try a case-insensitive match.
      const found = Object.keys(obj).find((k) => k.toLowerCase() === key.toLowerCase());
      v = found === undefined ? undefined : obj[found];
    }
  }
  return v;
}

function value(arg: Arg, dot: unknown): unknown {
  switch (arg.kind) {
    case 'path':
      return lookup(dot, arg.path);
    case 'str':
      return arg.value;
    case 'num':
      return arg.value;
    case 'ident':
      return FUNCS[arg.name] ? FUNCS[arg.name]!([]) : undefined;
  }
}

const FUNCS: Record<string, (args: unknown[]) => unknown> = {
  json: ([v]) => JSON.stringify(v ?? null),
  index: ([m, ...keys]) => keys.reduce<unknown>((acc, k) => (acc && typeof acc === 'object' ? (acc as Record<string, unknown>)[String(k)] : undefined), m),
  join: ([list, sep]) => (Array.isArray(list) ? list.map(String).join(String(sep ?? '')) : ''),
  upper: ([v]) => str(v).toUpperCase(),
  lower: ([v]) => str(v).toLowerCase(),
  len: ([v]) => (Array.isArray(v) || typeof v === 'string' ? v.length : v && typeof v === 'object' ? Object.keys(v).length : 0),
  println: (args) => args.map(str).join(' ') + '\n',
  print: (args) => args.map(str).join(''),
  printf: ([fmt, ...args]) => {
    let k = 0;
    return String(fmt ?? '').replace(/%([-\d.]*)([sdvq%])/g, (_m, _w: string, c: string) => {
      if (c === '%') return '%';
      const v = args[k++];
      return c === 'q' ? JSON.stringify(str(v)) : str(v);
    });
  },
  truncate: ([v, n]) => str(v).slice(0, Number(n)),
};

function evalPipe(pipe: Arg[], dot: unknown): unknown {
  const [head, ...rest] = pipe;
  if (!head) return undefined;
  if (head.kind === 'ident') {
    const fn = FUNCS[head.name];
    if (!fn) throw new SkiffError('EINVALID', `template: function "${head.name}" not defined`);
    return fn(rest.map((a) => value(a, dot)));
  }
  return value(head, dot);
}

function str(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (Array.isArray(v)) return `[${v.map(str).join(' ')}]`;
  if (typeof v === 'object') return `map[${Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, x]) => `${k}:${str(x)}`).join(' ')}]`;
  return String(v);
}

function truthy(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  if (v && typeof v === 'object') return Object.keys(v).length > 0;
  return Boolean(v);
}

function renderNodes(nodes: Node[], dot: unknown): string {
  let out = '';
  for (const n of nodes) {
    if (n.kind === 'text') out += n.text;
    else if (n.kind === 'action') out += str(evalPipe(n.pipe, dot));
    else if (n.kind === 'if') out += renderNodes(truthy(evalPipe(n.pipe, dot)) ? n.body : n.elseBody, dot);
    else {
      const v = evalPipe(n.pipe, dot);
      const items = Array.isArray(v) ? v : v && typeof v === 'object' ? Object.values(v) : [];
      if (items.length === 0) out += renderNodes(n.elseBody, dot);
      for (const item of items) out += renderNodes(n.body, item);
    }
  }
  return out;
}
