/**
 * How JavaScript data looks to a Go template: every value has a Go kind. Strings, booleans, arrays (slices),
 * `null` (nil) and `undefined` (an invalid value: Go's "<no value>") map directly; an integral number is an
 * `int`, any other number (or a `GoFloat`) a `float64`, a bigint an `int`. An object is a Go map when it is a
 * JS `Map`, was marked with `goMap()`, was reached through a field whose name podman's types declare as a map
 * (`Labels`, `Annotations`, `Options`, …), is empty, or has a key that is not a Go identifier; every other object
 * is a struct, whose fields are its keys (matched exactly, then case-insensitively for JSON-tagged names).
 */
export type Kind = 'invalid' | 'nil' | 'bool' | 'int' | 'float' | 'string' | 'slice' | 'map' | 'struct' | 'func';

/** A float64 whose value happens to be integral (a template literal `1.0`), kept apart from the int 1. */
export class GoFloat {
  readonly n: number;
  constructor(n: number) {
    this.n = n;
  }
}

const GO_TYPE = Symbol.for('skiff.goTemplate.type');
const maps = new WeakSet<object>();

/** Field names whose values are Go maps in podman's and skopeo's types (when they hold an object). */
const MAP_FIELDS = new Set(['Labels', 'Annotations', 'Options', 'Networks', 'ExposedPorts', 'Volumes', 'Sysctls', 'IPAMOptions', 'Containers', 'Ports', 'Env']);

/** Marks `o` as a Go map (missing keys print `<no value>` instead of failing); returns `o`. */
export function goMap<T extends object>(o: T): T {
  maps.add(o);
  return o;
}

/** Names the Go struct type `o` stands for in error messages (`containers.psReporter`); returns `o`. */
export function goType<T extends object>(o: T, name: string): T {
  Object.defineProperty(o, GO_TYPE, { value: name, enumerable: false, configurable: true });
  return o;
}

/** Field names whose values are Go slices of strings in podman's and skopeo's types. */
const SLICE_FIELDS = new Set(['Cmd', 'Entrypoint', 'RepoTags', 'RepoDigests', 'Layers', 'OnBuild', 'Shell', 'Args', 'Mounts', 'Names', 'Env']);

/**
 * The value of field `name` as Go holds it: JSON's null under a map-typed field is Go's nil map (prints
 * `map[]`, every key missing), under a slice-typed field a nil slice (prints `[]`); anything else unchanged.
 */
export function fieldValue(name: string, v: unknown): unknown {
  if (v !== null) return v;
  if (MAP_FIELDS.has(name) && !SLICE_FIELDS.has(name)) return goMap({});
  if (SLICE_FIELDS.has(name)) return [];
  return v;
}

/** Records that `v` was read from field `name`: an object under a map-typed field is a map from then on. */
export function noteField(name: string, v: unknown): void {
  if (MAP_FIELDS.has(name) && isPlainObject(v)) maps.add(v);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Map) && !(v instanceof GoFloat) && !(v instanceof Date);
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The Go kind of a JavaScript value (see the module comment). */
export function kindOf(v: unknown): Kind {
  if (v === undefined) return 'invalid';
  if (v === null) return 'nil';
  switch (typeof v) {
    case 'string':
      return 'string';
    case 'boolean':
      return 'bool';
    case 'bigint':
      return 'int';
    case 'number':
      return Number.isInteger(v) ? 'int' : 'float';
    case 'function':
      return 'func';
  }
  if (v instanceof GoFloat) return 'float';
  if (Array.isArray(v)) return 'slice';
  if (v instanceof Map) return 'map';
  if (v instanceof Date) return 'struct';
  const o = v as Record<string, unknown>;
  if (maps.has(o)) return 'map';
  const keys = Object.keys(o);
  if (keys.length === 0 || keys.some((k) => !IDENT.test(k))) return 'map';
  return 'struct';
}

/** The numeric value of an int or float. */
export function num(v: unknown): number {
  if (v instanceof GoFloat) return v.n;
  if (typeof v === 'bigint') return Number(v);
  return v as number;
}

/** The Go type name used in messages: `string`, `int`, `float64`, `[]interface {}`, `map[string]string`, a struct's name. */
export function typeName(v: unknown): string {
  const k = kindOf(v);
  switch (k) {
    case 'invalid':
    case 'nil':
      return '<nil>';
    case 'float':
      return 'float64';
    case 'slice': {
      const a = v as unknown[];
      const kinds = new Set(a.map(kindOf));
      return kinds.size === 1 && a.length > 0 ? `[]${typeName(a[0])}` : '[]interface {}';
    }
    case 'map': {
      const vals = entriesOf(v).map(([, x]) => x);
      const kinds = new Set(vals.map(kindOf));
      return kinds.size === 1 && kinds.has('string') ? 'map[string]string' : 'map[string]interface {}';
    }
    case 'struct':
      return structName(v as object);
    case 'func':
      return 'func()';
    default:
      return k;
  }
}

/** A struct's Go type name: the one given by `goType`, else `interface {}`. */
export function structName(o: object): string {
  if (o instanceof Date) return 'time.Time';
  return (o as { [GO_TYPE]?: string })[GO_TYPE] ?? 'interface {}';
}

/** Key/value pairs of a map, sorted by key as Go's fmt and range do. */
export function entriesOf(v: unknown): [string, unknown][] {
  const e = v instanceof Map ? [...v.entries()].map(([k, x]) => [String(k), x] as [string, unknown]) : Object.entries(v as Record<string, unknown>);
  return e.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** A struct's fields in declaration (insertion) order. */
export function fieldsOf(v: object): [string, unknown][] {
  return Object.entries(v as Record<string, unknown>);
}

/** Looks up a map key: the value, or undefined when absent. */
export function mapGet(m: unknown, key: string): unknown {
  if (m instanceof Map) return m.get(key);
  return Object.hasOwn(m as object, key) ? (m as Record<string, unknown>)[key] : undefined;
}

/** Looks up a struct field (exact name, then case-insensitive); `found` false when there is none. */
export function fieldGet(o: object, name: string): { found: boolean; value?: unknown } {
  const rec = o as Record<string, unknown>;
  if (Object.hasOwn(rec, name)) return { found: true, value: rec[name] };
  const lower = name.toLowerCase();
  const k = Object.keys(rec).find((x) => x.toLowerCase() === lower);
  return k === undefined ? { found: false } : { found: true, value: rec[k] };
}

/** Go's truth: false, 0, nil, and empty strings, slices and maps are false; structs are true. */
export function isTrue(v: unknown): boolean {
  switch (kindOf(v)) {
    case 'invalid':
    case 'nil':
      return false;
    case 'bool':
      return v as boolean;
    case 'int':
    case 'float':
      return num(v) !== 0;
    case 'string':
      return (v as string).length > 0;
    case 'slice':
      return (v as unknown[]).length > 0;
    case 'map':
      return entriesOf(v).length > 0;
    default:
      return true;
  }
}
