/**
 * The lexer of Go's text/template: text and actions between `{{` and `}}`, trim markers (`{{- ` and ` -}}`
 * trim the whitespace next to them), comments (`{{/* … *\/}}`), and inside actions identifiers, keywords,
 * fields (`.Name`), variables (`$x`), strings ("…" with Go escapes, `raw`), characters ('a'), numbers (Go's
 * syntax: 0x, 0o, 0b, _, floats), `:=`, `=`, `|`, `(`, `)`. An error item carries Go's message and stops the
 * stream. Positions are byte offsets (UTF-16 here) into the source, lines count from 1.
 */
export type ItemType =
  | 'text'
  | 'leftDelim'
  | 'rightDelim'
  | 'comment'
  | 'space'
  | 'identifier'
  | 'keyword'
  | 'field'
  | 'variable'
  | 'string'
  | 'rawString'
  | 'char'
  | 'number'
  | 'bool'
  | 'nil'
  | 'dot'
  | 'declare'
  | 'assign'
  | 'pipe'
  | 'leftParen'
  | 'rightParen'
  | 'char2' // a comma, in `range $i, $x :=`
  | 'error'
  | 'eof';

/** One lexical item. */
export interface Item {
  type: ItemType;
  val: string;
  pos: number;
  line: number;
}

/** Keywords of the action language. */
export const KEYWORDS = new Set(['block', 'break', 'continue', 'define', 'else', 'end', 'if', 'range', 'nil', 'template', 'with']);

const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\r' || c === '\n';
const isAlnum = (c: string | undefined): boolean => c !== undefined && /[\p{L}\p{Nd}_]/u.test(c);

/** Splits `src` into items (the last is `eof` or `error`). */
export function lex(src: string): Item[] {
  const items: Item[] = [];
  let pos = 0;
  let start = 0;
  let line = 1;
  let startLine = 1;
  let parenDepth = 0;

  const emit = (type: ItemType, val = src.slice(start, pos)): void => {
    items.push({ type, val, pos: start, line: startLine });
    start = pos;
    startLine = line;
  };
  const advance = (n: number): void => {
    for (let i = 0; i < n; i++) if (src[pos + i] === '\n') line++;
    pos += n;
  };
  /** Scans a quoted literal from its opening `quote` through its closing one; false when a newline or the end comes first. */
  const scanQuoted = (quote: string): boolean => {
    advance(1);
    for (;;) {
      const ch = src[pos];
      if (ch === '\\' && pos + 1 < src.length && src[pos + 1] !== '\n') {
        advance(2);
        continue;
      }
      if (ch === undefined || ch === '\n') return false;
      advance(1);
      if (ch === quote) return true;
    }
  };
  const ignore = (): void => {
    start = pos;
    startLine = line;
  };
  let actionLine = 1;
  const fail = (msg: string): false => {
    // podman's Go reports a lexical error on the line where the action began
    items.push({ type: 'error', val: msg, pos: start, line: actionLine });
    return false;
  };

  /** Lexes text up to the next `{{`; true to continue with an action. */
  function lexText(): boolean | 'done' {
    const open = src.indexOf('{{', pos);
    if (open < 0) {
      advance(src.length - pos);
      if (pos > start) emit('text');
      return 'done';
    }
    const trim = src[open + 2] === '-' && isSpace(src[open + 3]);
    let textEnd = open;
    if (trim) while (textEnd > start && isSpace(src[textEnd - 1])) textEnd--;
    advance(textEnd - pos);
    if (pos > start) emit('text');
    advance(open - pos);
    ignore();
    return true;
  }

  /** Lexes `{{`, a comment or an action, up to and including `}}`. */
  function lexAction(): boolean {
    actionLine = line;
    const trimLeft = src[pos + 2] === '-' && isSpace(src[pos + 3]);
    advance(trimLeft ? 3 : 2);
    if (src.startsWith('/*', pos) || (trimLeft && src.startsWith('/*', pos + 1))) {
      // a comment: `{{/*` … `*/}}`, whitespace allowed before the trim marker
      if (trimLeft) advance(1);
      ignore();
      const close = src.indexOf('*/', pos + 2);
      if (close < 0) return fail('unclosed comment');
      advance(close + 2 - pos);
      const trimRight = src.startsWith(' -}}', pos);
      if (!trimRight && !src.startsWith('}}', pos)) return fail('comment ends before closing delimiter');
      emit('comment');
      advance(trimRight ? 4 : 2);
      ignore();
      if (trimRight) skipSpace();
      return true;
    }
    emit('leftDelim', '{{');
    parenDepth = 0;
    for (;;) {
      // right delimiter (optionally trimmed)
      const trimRight = isSpace(src[pos]) && src[pos + 1] === '-' && src.startsWith('}}', pos + 2);
      if (trimRight || src.startsWith('}}', pos)) {
        if (trimRight) {
          advance(1);
          if (pos > start) emit('space');
          advance(1);
          ignore();
        }
        if (parenDepth > 0) return fail('unclosed left paren');
        advance(2);
        emit('rightDelim', '}}');
        if (trimRight) skipSpace();
        return true;
      }
      if (pos >= src.length) return fail('unclosed action');
      const c = src[pos]!;
      if (isSpace(c)) {
        while (isSpace(src[pos]) && !(src[pos + 1] === '-' && src.startsWith('}}', pos + 2))) advance(1);
        if (isSpace(src[pos]) && src[pos + 1] === '-' && src.startsWith('}}', pos + 2)) {
          if (pos > start) emit('space');
          continue;
        }
        emit('space');
      } else if (c === '=') {
        advance(1);
        emit('assign');
      } else if (c === ':') {
        if (src[pos + 1] !== '=') return fail('expected :=');
        advance(2);
        emit('declare');
      } else if (c === ',') {
        advance(1);
        emit('char2');
      } else if (c === '|') {
        advance(1);
        emit('pipe');
      } else if (c === '"') {
        if (!scanQuoted('"')) return fail('unterminated quoted string');
        emit('string');
      } else if (c === '`') {
        const close = src.indexOf('`', pos + 1);
        if (close < 0) return fail('unterminated raw quoted string');
        advance(close + 1 - pos);
        emit('rawString');
      } else if (c === "'") {
        if (!scanQuoted("'")) return fail('unterminated character constant');
        emit('char');
      } else if (c === '$') {
        advance(1);
        while (isAlnum(src[pos])) advance(1);
        if (!atTerminator()) return fail(`bad character ${charName(String.fromCodePoint(src.codePointAt(pos)!))}`);
        emit('variable');
      } else if (c === '.') {
        // a field, or a number like .5, or the dot itself
        if (/[0-9]/.test(src[pos + 1] ?? '')) {
          if (!lexNumber()) return false;
          continue;
        }
        advance(1);
        if (isAlnum(src[pos])) {
          while (isAlnum(src[pos])) advance(1);
          if (!atTerminator()) return fail(`bad character ${charName(String.fromCodePoint(src.codePointAt(pos)!))}`);
          emit('field');
        } else emit('dot');
      } else if (c === '+' || c === '-' || /[0-9]/.test(c)) {
        if (!lexNumber()) return false;
      } else if (isAlnum(c)) {
        while (isAlnum(src[pos])) advance(1);
        const word = src.slice(start, pos);
        if (!atTerminator()) return fail(`bad character ${charName(src[pos]!)}`);
        if (word === 'true' || word === 'false') emit('bool');
        else if (word === 'nil') emit('nil');
        else if (KEYWORDS.has(word)) emit('keyword');
        else emit('identifier');
      } else if (c === '(') {
        advance(1);
        emit('leftParen');
        parenDepth++;
      } else if (c === ')') {
        parenDepth--;
        advance(1);
        emit('rightParen');
      } else if (c > ' ' && c <= '~' && !src.startsWith('{{', pos)) {
        // any other printable ASCII character is an item of its own the parser rejects in context
        advance(1);
        emit('char2');
      } else {
        return fail(`bad character ${charName(String.fromCodePoint(src.codePointAt(pos)!))}`);
      }
    }
  }

  function atTerminator(): boolean {
    const c = src[pos];
    if (c === undefined || isSpace(c)) return true;
    if ('.,|:)('.includes(c)) return true;
    return src.startsWith('}}', pos);
  }

  /** Go's scanNumber: a sign, a base prefix, digits, fraction, exponent; a letter right after is an error. */
  function lexNumber(): boolean {
    const accept = (set: string): boolean => {
      if (pos < src.length && set.includes(src[pos]!)) {
        advance(1);
        return true;
      }
      return false;
    };
    const acceptRun = (set: string): void => {
      while (pos < src.length && set.includes(src[pos]!)) advance(1);
    };
    accept('+-');
    let digits = '0123456789_';
    if (accept('0')) {
      if (accept('xX')) digits = '0123456789abcdefABCDEF_';
      else if (accept('oO')) digits = '01234567_';
      else if (accept('bB')) digits = '01_';
    }
    acceptRun(digits);
    if (accept('.')) acceptRun(digits);
    if (digits.length === 11 && accept('eE')) {
      accept('+-');
      acceptRun('0123456789_');
    }
    if (digits.length === 23 && accept('pP')) {
      accept('+-');
      acceptRun('0123456789_');
    }
    accept('i');
    if (isAlnum(src[pos])) {
      advance(1);
      return fail(`bad number syntax: ${JSON.stringify(src.slice(start, pos))}`);
    }
    emit('number');
    return true;
  }

  function skipSpace(): void {
    while (isSpace(src[pos])) advance(1);
    ignore();
  }

  for (;;) {
    const t = lexText();
    if (t === 'done') break;
    if (!lexAction()) return items;
  }
  items.push({ type: 'eof', val: '', pos, line });
  return items;
}

/** Go's %#U-ish name of a character in "bad character" errors: `U+007B '{'`. */
function charName(c: string): string {
  return `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')} '${c}'`;
}
