/**
 * Variable expansion with BuildKit's shell-lexer rules (frontend/dockerfile/shell): `$v ${v} ${v:-w} ${v-w}
 * ${v:+w} ${v+w} ${v:?msg} ${v?msg} ${v#p} ${v##p} ${v%p} ${v%%p} ${v/p/r} ${v//p/r}`, single quotes (literal),
 * double quotes (expanding), the escape character (`\` or the `# escape=` directive's backtick).
 * Pure functions: no I/O, no global state; the env passed in is never modified.
 */
import { SkiffError } from '../../errors.ts';

/** Variables visible to one expansion: name → value (keys compared case-sensitively, as on Linux). */
export type ExpandEnv = ReadonlyMap<string, string>;

/** Result of one expansion: the joined word, the whitespace-split words, the names used and those missing. */
export interface ExpandResult {
  value: string;
  words: string[];
  matched: Set<string>;
  unmatched: Set<string>;
}

/** Options shared by the expansion functions. */
export interface ExpandOptions {
  /** The escape character (`\` default, or backtick). */
  escape?: string;
}

/**
 * Instructions whose arguments the builder expands (BuildKit's list). RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK and
 * ONBUILD are not expanded by the builder: the shell in the container does it at run time.
 */
export const EXPANDING_INSTRUCTIONS: ReadonlySet<string> = new Set([
  'ADD', 'COPY', 'ENV', 'EXPOSE', 'FROM', 'LABEL', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR', 'ARG',
]);

const EOF = '';

class Words {
  word = '';
  words: string[] = [];
  inWord = false;
  addChar(ch: string): void {
    if (/\s/u.test(ch)) {
      if (this.inWord && this.word.length > 0) {
        this.words.push(this.word);
        this.word = '';
        this.inWord = false;
      }
    } else this.addRaw(ch);
  }
  addRaw(s: string): void {
    this.word += s;
    this.inWord = true;
  }
  addString(s: string): void {
    for (const ch of s) this.addChar(ch);
  }
  done(): string[] {
    if (this.word.length > 0) {
      this.words.push(this.word);
      this.word = '';
      this.inWord = false;
    }
    return this.words;
  }
}

function fail(source: string, msg: string): never {
  throw new SkiffError('EINVALID', `failed to process "${source}": ${msg}`, {
    hint: 'fix the variable reference (see the Dockerfile reference on environment replacement)',
  });
}

class Lexer {
  private readonly chars: string[];
  private pos = 0;
  readonly matched = new Set<string>();
  readonly unmatched = new Set<string>();
  private rawEscapes = false;
  constructor(
    private readonly source: string,
    private readonly env: ExpandEnv,
    private readonly esc: string,
  ) {
    this.chars = Array.from(source);
  }
  private peek(): string {
    return this.chars[this.pos] ?? EOF;
  }
  private next(): string {
    const c = this.chars[this.pos] ?? EOF;
    if (c !== EOF) this.pos++;
    return c;
  }
  run(): ExpandResult {
    const [value, words] = this.until(EOF, false);
    return { value, words, matched: this.matched, unmatched: this.unmatched };
  }

  /** Processes until `stop` (consumed) or end of input; returns the result and its words. */
  private until(stop: string, rawEscapes: boolean): [string, string[]] {
    const saved = this.rawEscapes;
    this.rawEscapes = rawEscapes;
    try {
      let out = '';
      const words = new Words();
      while (this.peek() !== EOF) {
        const ch = this.peek();
        if (stop !== EOF && ch === stop) {
          this.next();
          return [out, words.done()];
        }
        if (ch === '$') {
          const v = this.dollar();
          out += v;
          words.addString(v);
        } else if (ch === "'") {
          const v = this.single();
          out += v;
          words.addRaw(v);
        } else if (ch === '"') {
          const v = this.double();
          out += v;
          words.addRaw(v);
        } else {
          let c = this.next();
          if (c === this.esc) {
            if (this.rawEscapes) {
              words.addRaw(c);
              out += c;
            }
            c = this.next();
            if (c === EOF) break;
            words.addRaw(c);
          } else words.addChar(c);
          out += c;
        }
      }
      if (stop !== EOF) throw new LexEnd(`unexpected end of statement while looking for matching ${stop}`);
      return [out, words.done()];
    } finally {
      this.rawEscapes = saved;
    }
  }

  private single(): string {
    this.next();
    let out = '';
    for (;;) {
      const c = this.next();
      if (c === EOF) fail(this.source, 'unexpected end of statement while looking for matching single-quote');
      if (c === "'") return out;
      out += c;
    }
  }

  private double(): string {
    this.next();
    let out = '';
    for (;;) {
      const p = this.peek();
      if (p === EOF) fail(this.source, 'unexpected end of statement while looking for matching double-quote');
      if (p === '"') {
        this.next();
        return out;
      }
      if (p === '$') {
        out += this.dollar();
        continue;
      }
      let c = this.next();
      if (c === this.esc) {
        if (this.rawEscapes) out += c;
        const n = this.peek();
        if (n === EOF) continue;
        if (n === '"' || n === '$' || n === this.esc) c = this.next();
      }
      out += c;
    }
  }

  private name(): string {
    let name = '';
    while (this.peek() !== EOF) {
      const ch = this.peek();
      if (name.length === 0 && /\d/u.test(ch)) {
        while (/^\d$/u.test(this.peek())) name += this.next();
        return name;
      }
      if (name.length === 0 && '@*#?-$!0'.includes(ch)) return this.next();
      if (!/[\p{L}\p{Nd}_]/u.test(ch)) break;
      name += this.next();
    }
    return name;
  }

  private lookup(name: string): [string, boolean] {
    const v = this.env.get(name);
    if (v === undefined) {
      this.unmatched.add(name);
      return ['', false];
    }
    this.matched.add(name);
    return [v, true];
  }

  private sub(stop: string, raw: boolean, missing: string): string {
    try {
      return this.until(stop, raw)[0];
    } catch (e) {
      if (e instanceof LexEnd) fail(this.source, this.peek() === EOF ? missing : e.message);
      throw e;
    }
  }

  private dollar(): string {
    this.next();
    if (this.peek() !== '{') {
      const name = this.name();
      if (name === '') return '$';
      return this.lookup(name)[0];
    }
    this.next();
    const first = this.peek();
    if (first === EOF) fail(this.source, "syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':') fail(this.source, 'syntax error: bad substitution');
    const name = this.name();
    let ch = this.next();
    let mod = ch;
    if (ch === EOF) fail(this.source, "syntax error: missing '}'");
    if (ch === '}') return this.lookup(name)[0];
    if (ch === '/') {
      const all = this.peek() === '/';
      if (all) this.next();
      const pattern = this.sub('/', true, "syntax error: missing '/' in ${}");
      const repl = this.sub('}', true, "syntax error: missing '}'");
      const [value] = this.lookup(name);
      const re = shellPatternToRegExp(pattern, { greedy: true, anchored: false, global: all }, this.source);
      return value.replace(re, () => repl);
    }
    let colon = false;
    if (ch === ':') {
      colon = true;
      ch = this.next();
      mod += ch;
    }
    if (!['+', '-', '?', '#', '%'].includes(ch)) {
      fail(this.source, `unsupported modifier (${mod}) in substitution`);
    }
    let word = this.sub('}', ch === '#' || ch === '%', "syntax error: missing '}'");
    const [value, set] = this.lookup(name);
    const empty = !set || (colon && value === '');
    switch (ch) {
      case '-':
        return empty ? word : value;
      case '+':
        return empty ? '' : word;
      case '?':
        if (!set) fail(this.source, `${name}: ${word || 'is not allowed to be unset'}`);
        if (colon && value === '') fail(this.source, `${name}: ${word || 'is not allowed to be empty'}`);
        return value;
      default: {
        let greedy = false;
        if (word.startsWith(ch)) {
          greedy = true;
          word = word.slice(1);
        }
        const re = shellPatternToRegExp(word, { greedy: true, anchored: true, global: false, full: true }, this.source);
        const cps = Array.from(value);
        if (ch === '#') {
          // shortest (or longest) prefix that matches the whole pattern
          const idx = [...Array(cps.length + 1).keys()];
          for (const i of greedy ? idx.reverse() : idx) if (re.test(cps.slice(0, i).join(''))) return cps.slice(i).join('');
        } else {
          const idx = [...Array(cps.length + 1).keys()];
          for (const i of greedy ? idx : idx.reverse()) if (re.test(cps.slice(i).join(''))) return cps.slice(0, i).join('');
        }
        return value;
      }
    }
  }
}

class LexEnd extends Error {}

/**
 * Converts a shell glob (`*`, `?`, `\` escapes; no bracket expressions, as BuildKit) to a RegExp. `\}` and `\/`
 * drop the backslash (they were escaped only for the `${}` syntax). Throws EINVALID on a bad escape.
 */
export function shellPatternToRegExp(
  pattern: string,
  o: { greedy: boolean; anchored: boolean; global: boolean; full?: boolean },
  source = pattern,
): RegExp {
  const cs = Array.from(pattern);
  let out = o.anchored ? '^' : '';
  for (let i = 0; i < cs.length; i++) {
    const c = cs[i]!;
    if (c === '*') out += o.greedy ? '[\\s\\S]*' : '[\\s\\S]*?';
    else if (c === '?') out += '[\\s\\S]';
    else if (c === '\\') {
      const n = cs[i + 1];
      if (n === '}' || n === '/') continue;
      if (n !== '*' && n !== '?' && n !== '\\') fail(source, `invalid pattern (${pattern}) in substitution: invalid escape '\\${n ?? ''}'`);
      out += '\\' + n;
      i++;
    } else out += c.replace(/[.*+?^${}()|[\]\\/]/gu, '\\$&');
  }
  if (o.full) out += '$';
  return new RegExp(out, o.global ? 'gu' : 'u');
}

/** Expands one word: variables replaced, quotes removed, escapes processed. Throws EINVALID on bad syntax. */
export function expand(word: string, env: ExpandEnv, o: ExpandOptions = {}): ExpandResult {
  return new Lexer(word, env, o.escape ?? '\\').run();
}

/** `expand(...).value`: the expanded word with spaces between words kept. */
export function expandWord(word: string, env: ExpandEnv, o: ExpandOptions = {}): string {
  return expand(word, env, o).value;
}

/** `expand(...).words`: the word split on unquoted whitespace AFTER expansion (EXPOSE, ONBUILD-free lists). */
export function expandWords(word: string, env: ExpandEnv, o: ExpandOptions = {}): string[] {
  return expand(word, env, o).words;
}

/** Builds an ExpandEnv from `K=V` strings (a config's Env); later entries win, a bare `K` maps to ''. */
export function envFromList(list: readonly string[] | undefined): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of list ?? []) {
    const i = e.indexOf('=');
    if (i < 0) m.set(e, '');
    else m.set(e.slice(0, i), e.slice(i + 1));
  }
  return m;
}
