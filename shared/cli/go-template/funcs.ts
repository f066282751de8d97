import { sprint, sprintf, sprintln } from './fmt.ts';
import { entriesOf, fieldsOf, isTrue, kindOf, mapGet, num, typeName, type Kind } from './value.ts';

/**
 * The functions a template can call: Go's builtins (and, or, not, len, index, slice, print, printf, println,
 * html, js, urlquery, eq, ne, lt, le, gt, ge; `call` is not offered) with Go's argument rules and messages, and
 * the functions podman registers for every `--format` (json, lower, upper, title, split, join, truncate, pad).
 * A function throws `FuncError` with the text Go puts after "error calling NAME: ".
 */
export type ParamType = 'value' | 'any' | 'string' | 'int' | 'strings';

/** A function's signature and body. `and`/`or` are evaluated lazily by the executor. */
export interface TemplateFunc {
  params: ParamType[];
  variadic?: ParamType;
  call(args: unknown[]): unknown;
}

/** An error a function returned (Go: "error calling NAME: MESSAGE"). */
export class FuncError extends Error {}

const fail = (m: string): never => {
  throw new FuncError(m);
};

type Basic = 'bool' | 'int' | 'float' | 'string';
function basicKind(v: unknown): Basic | undefined {
  const k: Kind = kindOf(v);
  return k === 'bool' || k === 'int' || k === 'float' || k === 'string' ? k : undefined;
}

function eq(a: unknown, ...rest: unknown[]): boolean {
  if (rest.length === 0) fail('missing argument for comparison');
  const k1 = basicKind(a);
  for (const b of rest) {
    const k2 = basicKind(b);
    let truth = false;
    const valid = (v: unknown): boolean => v !== undefined && v !== null;
    if (k1 !== k2) {
      if (valid(a) && valid(b)) {
        if (k1 === undefined && k2 !== undefined) fail(`non-comparable type ${sprint([a])}: ${typeName(a)}`);
        if (k2 === undefined && k1 !== undefined) fail(`non-comparable type ${sprint([b])}: ${typeName(b)}`);
        fail('incompatible types for comparison');
      }
    } else if (k1 === undefined) {
      if (!valid(a) || !valid(b)) truth = !valid(a) && !valid(b);
      else fail(`non-comparable type ${sprint([b])}: ${typeName(b)}`);
    } else truth = k1 === 'int' || k1 === 'float' ? num(a) === num(b) : a === b;
    if (truth) return true;
  }
  return false;
}

function lt(a: unknown, b: unknown): boolean {
  const k1 = basicKind(a);
  const k2 = basicKind(b);
  if (k1 === undefined || k2 === undefined) fail('invalid type for comparison');
  if (k1 !== k2) fail('incompatible types for comparison');
  if (k1 === 'bool') fail('invalid type for comparison');
  return k1 === 'string' ? (a as string) < (b as string) : num(a) < num(b);
}

function indexArg(i: unknown, cap: number): number {
  if (kindOf(i) !== 'int') fail(i === undefined || i === null ? 'cannot index slice/array with nil' : `cannot index slice/array with type ${typeName(i)}`);
  const x = num(i);
  if (x < 0 || x >= cap) fail(`index out of range: ${x}`);
  return x;
}

function index(item: unknown, ...indexes: unknown[]): unknown {
  let v = item;
  if (v === undefined || v === null) fail('index of untyped nil');
  for (const i of indexes) {
    switch (kindOf(v)) {
      case 'slice':
        v = (v as unknown[])[indexArg(i, (v as unknown[]).length)];
        break;
      case 'string': {
        const bytes = Buffer.from(v as string, 'utf8');
        v = bytes[indexArg(i, bytes.length)];
        break;
      }
      case 'map':
      case 'struct': {
        if (kindOf(i) !== 'string') fail(`value has type ${typeName(i)}; should be string`);
        const got = mapGet(v, i as string);
        if (got !== undefined) v = got;
        else {
          const vals = entriesOf(v).map(([, x]) => x);
          v = vals.every((x) => typeof x === 'string') ? '' : null; // the zero value of the map's element type
        }
        break;
      }
      case 'invalid':
      case 'nil':
        fail(`index of nil pointer`);
        break;
      default:
        fail(`can't index item of type ${typeName(v)}`);
    }
  }
  return v;
}

function slice(item: unknown, ...idx: unknown[]): unknown {
  if (item === undefined || item === null) fail('slice of untyped nil');
  if (idx.length > 3) fail(`too many slice indexes: ${idx.length}`);
  const k = kindOf(item);
  if (k !== 'string' && k !== 'slice') fail(`can't slice item of type ${typeName(item)}`);
  if (k === 'string' && idx.length === 3) fail('cannot 3-index slice a string');
  const len = k === 'string' ? Buffer.byteLength(item as string) : (item as unknown[]).length;
  const bounds = [0, len];
  idx.slice(0, 2).forEach((x, j) => {
    if (kindOf(x) !== 'int') fail(`cannot index slice/array with type ${typeName(x)}`);
    const n = num(x);
    if (n < 0 || n > len) fail(`index out of range: ${n}`);
    bounds[j] = n;
  });
  if (bounds[0]! > bounds[1]!) fail(`invalid slice index: ${bounds[0]} > ${bounds[1]}`);
  if (k === 'string') return Buffer.from(item as string, 'utf8').subarray(bounds[0], bounds[1]).toString('utf8');
  return (item as unknown[]).slice(bounds[0], bounds[1]);
}

function length(v: unknown): number {
  switch (kindOf(v)) {
    case 'string':
      return Buffer.byteLength(v as string);
    case 'slice':
      return (v as unknown[]).length;
    case 'map':
      return entriesOf(v).length;
    case 'invalid':
      return fail('reflect: call of reflect.Value.Type on zero Value');
    case 'nil':
      return fail('len of nil pointer');
    default:
      return fail(`len of type ${typeName(v)}`);
  }
}

/** The text of `args` as html/js/urlquery see it: the one string argument, else fmt.Sprint of all. */
function evalArgs(args: unknown[]): string {
  return args.length === 1 && typeof args[0] === 'string' ? args[0] : sprint(args);
}

function htmlEscape(s: string): string {
  return s.replace(/[\0"'&<>]/g, (c) => ({ '\0': '\uFFFD', '"': '&#34;', "'": '&#39;', '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]!);
}

function jsEscape(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    const named: Record<string, string> = { '\\': '\\\\', "'": "\\'", '"': '\\"', '<': '\\u003C', '>': '\\u003E', '&': '\\u0026', '=': '\\u003D' };
    if (named[ch]) out += named[ch];
    else if (c < 0x20) out += `\\u${c.toString(16).toUpperCase().padStart(4, '0')}`;
    else if (c >= 0x7f && !/[\p{L}\p{M}\p{N}\p{P}\p{S}\p{Zs}]/u.test(ch)) out += `\\u${c.toString(16).toUpperCase().padStart(4, '0')}`;
    else out += ch;
  }
  return out;
}

function queryEscape(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c;
    else if (c === ' ') out += '+';
    else out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** encoding/json's Marshal of a template value: maps with sorted keys, structs in field order, no HTML escaping. */
export function goJson(v: unknown): string {
  switch (kindOf(v)) {
    case 'invalid':
    case 'nil':
    case 'func':
      return 'null';
    case 'bool':
      return String(v);
    case 'int':
      return String(typeof v === 'bigint' ? v : num(v));
    case 'float': {
      const n = num(v);
      const a = Math.abs(n);
      if (a !== 0 && (a < 1e-6 || a >= 1e21)) return n.toExponential().replace(/e([+-])(\d)$/, 'e$10$2');
      return String(n);
    }
    case 'string':
      return JSON.stringify(v).replace(/[\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`);
    case 'slice':
      return `[${(v as unknown[]).map(goJson).join(',')}]`;
    case 'map':
      return `{${entriesOf(v).map(([k, x]) => `${JSON.stringify(k)}:${goJson(x)}`).join(',')}}`;
    case 'struct':
      if (v instanceof Date) return JSON.stringify(v.toISOString());
      return `{${fieldsOf(v as object)
        .filter(([, x]) => x !== undefined)
        .map(([k, x]) => `${JSON.stringify(k)}:${goJson(x)}`)
        .join(',')}}`;
  }
}

/** Go's strings.ToUpper/ToLower: a rune maps to one rune (ß stays ß), unlike JavaScript's full case mapping. */
function mapRunes(s: string, f: (c: string) => string): string {
  let out = '';
  for (const c of s) {
    const m = f(c);
    out += [...m].length === 1 ? m : c;
  }
  return out;
}

/** strings.Title: upper-cases the first letter of each word. */
function title(s: string): string {
  return s.replace(/(^|[^\p{L}\p{N}_'])(\p{L})/gu, (_m, sep: string, ch: string) => sep + mapRunes(ch, (c) => c.toUpperCase()));
}

/** The functions every template may call, by name. */
export const FUNCS: ReadonlyMap<string, TemplateFunc> = new Map<string, TemplateFunc>([
  ['and', { params: ['value'], variadic: 'value', call: (a) => a[a.length - 1] }],
  ['or', { params: ['value'], variadic: 'value', call: (a) => a[a.length - 1] }],
  ['not', { params: ['value'], call: ([a]) => !isTrue(a) }],
  ['len', { params: ['value'], call: ([a]) => length(a) }],
  ['index', { params: ['value'], variadic: 'value', call: ([a, ...i]) => index(a, ...i) }],
  ['slice', { params: ['value'], variadic: 'value', call: ([a, ...i]) => slice(a, ...i) }],
  ['print', { params: [], variadic: 'any', call: (a) => sprint(a) }],
  ['printf', { params: ['string'], variadic: 'any', call: ([f, ...a]) => sprintf(f as string, a) }],
  ['println', { params: [], variadic: 'any', call: (a) => sprintln(a) }],
  ['html', { params: [], variadic: 'any', call: (a) => htmlEscape(evalArgs(a)) }],
  ['js', { params: [], variadic: 'any', call: (a) => jsEscape(evalArgs(a)) }],
  ['urlquery', { params: [], variadic: 'any', call: (a) => queryEscape(evalArgs(a)) }],
  ['eq', { params: ['value'], variadic: 'value', call: ([a, ...b]) => eq(a, ...b) }],
  ['ne', { params: ['value', 'value'], call: ([a, b]) => !eq(a, b) }],
  ['lt', { params: ['value', 'value'], call: ([a, b]) => lt(a, b) }],
  ['le', { params: ['value', 'value'], call: ([a, b]) => lt(a, b) || eq(a, b) }],
  ['gt', { params: ['value', 'value'], call: ([a, b]) => !(lt(a, b) || eq(a, b)) }],
  ['ge', { params: ['value', 'value'], call: ([a, b]) => !lt(a, b) }],
  // podman's (containers/common pkg/report): the same names and argument types
  ['json', { params: ['any'], call: ([a]) => goJson(a) }],
  ['lower', { params: ['string'], call: ([s]) => mapRunes(s as string, (c) => c.toLowerCase()) }],
  ['upper', { params: ['string'], call: ([s]) => mapRunes(s as string, (c) => c.toUpperCase()) }],
  ['title', { params: ['string'], call: ([s]) => title(s as string) }],
  ['split', { params: ['string', 'string'], call: ([s, sep]) => ((sep as string) === '' ? [...(s as string)] : (s as string).split(sep as string)) }],
  ['join', { params: ['strings', 'string'], call: ([l, sep]) => (l as string[]).join(sep as string) }],
  ['truncate', { params: ['string', 'int'], call: ([s, n]) => (Buffer.byteLength(s as string) < num(n) ? s : Buffer.from(s as string).subarray(0, Math.max(0, num(n))).toString('utf8')) }],
  ['pad', { params: ['string', 'int', 'int'], call: ([s, p, q]) => (s === '' ? '' : ' '.repeat(Math.max(0, num(p))) + (s as string) + ' '.repeat(Math.max(0, num(q)))) }],
]);
