import { entriesOf, fieldsOf, kindOf, num, typeName } from './value.ts';

/**
 * Go's fmt package over template values (value.ts): Sprint, Sprintln and Sprintf with the verbs
 * %v %s %d %q %x %X %f %F %e %E %g %G %t %c %U %o %O %b %T %p-less, flags `-+# 0`, width and precision (also `*`),
 * explicit argument indexes `%[n]d`, `%%`, and fmt's error forms: `%!d(string=x)`, `%!s(MISSING)`,
 * `%!(EXTRA int=2)`, `%!(NOVERB)`, `%!(BADWIDTH)`, `%!(BADPREC)`, `%!(BADINDEX)`. Pure.
 */
interface Spec {
  minus: boolean;
  plus: boolean;
  sharp: boolean;
  space: boolean;
  zero: boolean;
  width?: number;
  prec?: number;
  plusV: boolean;
  sharpV: boolean;
}

const NO_FLAGS: Spec = { minus: false, plus: false, sharp: false, space: false, zero: false, plusV: false, sharpV: false };

/** fmt.Sprint: operands in %v, a space between two operands when neither is a string. */
export function sprint(args: readonly unknown[]): string {
  let out = '';
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += formatV(a, NO_FLAGS, 0);
  });
  return out;
}

/** fmt.Sprintln: operands in %v separated by spaces, then a newline. */
export function sprintln(args: readonly unknown[]): string {
  return `${args.map((a) => formatV(a, NO_FLAGS, 0)).join(' ')}\n`;
}

/** fmt.Sprintf. */
export function sprintf(format: string, args: readonly unknown[]): string {
  let out = '';
  let argNum = 0;
  let reordered = false;
  let goodArgNum = true;
  const end = format.length;
  let i = 0;
  while (i < end) {
    const pct = format.indexOf('%', i);
    if (pct < 0) {
      out += format.slice(i);
      break;
    }
    out += format.slice(i, pct);
    i = pct + 1;
    const s: Spec = { ...NO_FLAGS };
    // flags
    for (; i < end; i++) {
      const c = format[i];
      if (c === '#') s.sharp = true;
      else if (c === '0') s.zero = !s.minus;
      else if (c === '+') s.plus = true;
      else if (c === '-') {
        s.minus = true;
        s.zero = false;
      } else if (c === ' ') s.space = true;
      else break;
    }
    // argument index, width
    const argIndex = (): void => {
      if (i >= end || format[i] !== '[') return;
      reordered = true;
      const close = format.indexOf(']', i);
      const n = close < 0 ? NaN : Number(format.slice(i + 1, close));
      if (close < 0 || !/^\d+$/.test(format.slice(i + 1, close)) || n < 1 || n > args.length) {
        goodArgNum = false;
        i = close < 0 ? end : close + 1;
        return;
      }
      argNum = n - 1;
      goodArgNum = true;
      i = close + 1;
    };
    argIndex();
    if (i < end && format[i] === '*') {
      i++;
      const w = intArg(args, argNum);
      argNum++;
      if (w === undefined) out += '%!(BADWIDTH)';
      else {
        s.width = Math.abs(w);
        if (w < 0) {
          s.minus = true;
          s.zero = false;
        }
      }
      argIndex();
    } else {
      const m = /^\d+/.exec(format.slice(i));
      if (m) {
        s.width = Number(m[0]);
        i += m[0].length;
        if (s.width > 1e6) return `${out}%!(NOVERB)`; // fmt refuses widths over a million
      }
    }
    if (i < end && format[i] === '.') {
      i++;
      argIndex();
      if (i < end && format[i] === '*') {
        i++;
        const p = intArg(args, argNum);
        argNum++;
        if (p === undefined || p < 0) out += '%!(BADPREC)';
        else s.prec = p;
        argIndex();
      } else {
        const m = /^\d+/.exec(format.slice(i));
        s.prec = m ? Number(m[0]) : 0;
        if (m) i += m[0].length;
        if (s.prec > 1e6) return `${out}%!(NOVERB)`; // and precisions over a million
      }
    }
    if (!reordered) argIndex();
    if (i >= end) {
      out += '%!(NOVERB)';
      break;
    }
    const verb = String.fromCodePoint(format.codePointAt(i)!);
    i += verb.length;
    if (verb === '%') {
      out += '%';
      continue;
    }
    if (!goodArgNum) {
      out += `%!${verb}(BADINDEX)`;
      continue;
    }
    if (argNum >= args.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    if (verb === 'v') {
      if (s.sharp) {
        s.sharp = false;
        s.sharpV = true;
      }
      if (s.plus) {
        s.plus = false;
        s.plusV = true;
      }
    }
    out += formatArg(args[argNum++], verb, s);
  }
  if (!reordered && argNum < args.length) {
    out += `%!(EXTRA ${args.slice(argNum).map((a) => `${typeName(a)}=${formatV(a, NO_FLAGS, 0)}`).join(', ')})`;
  }
  return out;
}

function intArg(args: readonly unknown[], n: number): number | undefined {
  const a = args[n];
  if (n >= args.length || kindOf(a) !== 'int') return undefined;
  const v = num(a);
  return Math.abs(v) > 1e6 ? undefined : v;
}

function bad(verb: string, a: unknown): string {
  if (a === null || a === undefined) return `%!${verb}(<nil>)`;
  return `%!${verb}(${typeName(a)}=${formatV(a, NO_FLAGS, 0)})`;
}

/** Pads `s` to the spec's width (runes), left or right, with spaces or (numbers) zeros. */
function pad(s: string, sp: Spec, zeroOk = false): string {
  const w = sp.width ?? 0;
  const n = [...s].length;
  if (n >= w) return s;
  if (sp.minus) return s + ' '.repeat(w - n);
  if (sp.zero && zeroOk) {
    const sign = /^[+\- ]/.test(s) ? s[0]! : '';
    return sign + '0'.repeat(w - n) + s.slice(sign.length);
  }
  return ' '.repeat(w - n) + s;
}

function formatArg(a: unknown, verb: string, s: Spec): string {
  if (verb === 'T') return pad(a === null || a === undefined ? '<nil>' : typeName(a), s);
  if (verb === 'v') return formatV(a, s, 0);
  const k = kindOf(a);
  if (k === 'invalid' || k === 'nil') return bad(verb, a);
  if (k === 'slice' && verb !== 'x' && verb !== 'X' && verb !== 'q') return `[${(a as unknown[]).map((x) => formatArg(x, verb, s)).join(' ')}]`;
  if (k === 'slice') {
    const items = a as unknown[];
    return `[${items.map((x) => formatArg(x, verb, s)).join(' ')}]`;
  }
  if (k === 'map') return `map[${entriesOf(a).map(([key, x]) => `${formatArg(key, verb, s)}:${formatArg(x, verb, s)}`).join(' ')}]`;
  if (k === 'struct') return `{${fieldsOf(a as object).map(([, x]) => formatArg(x, verb, s)).join(' ')}}`;
  switch (k) {
    case 'bool':
      return verb === 't' ? pad(String(a), s) : bad(verb, a);
    case 'string':
      return formatString(a as string, verb, s) ?? bad(verb, a);
    case 'int':
      return formatInt(BigInt(num(a)), verb, s) ?? bad(verb, a);
    case 'float':
      return formatFloat(num(a), verb, s) ?? bad(verb, a);
    default:
      return bad(verb, a);
  }
}

/** The default format (%v, %+v, %#v) of any value; `depth` > 0 inside a composite. */
export function formatV(a: unknown, s: Spec, depth: number): string {
  const k = kindOf(a);
  switch (k) {
    case 'invalid':
    case 'nil':
      return pad(s.sharpV ? 'interface {}(nil)' : '<nil>', s);
    case 'bool':
      return pad(String(a), s);
    case 'string':
      return s.sharpV ? pad(quote(a as string), s) : formatString(a as string, 's', s)!;
    case 'int':
      return formatInt(BigInt(num(a)), 'd', s)!;
    case 'float':
      return formatFloat(num(a), 'g', s)!;
    case 'slice': {
      const inner = (a as unknown[]).map((x) => formatV(x, s, depth + 1));
      return s.sharpV ? `${typeName(a)}{${inner.join(', ')}}` : `[${inner.join(' ')}]`;
    }
    case 'map': {
      const inner = entriesOf(a).map(([key, x]) => `${formatV(key, s, depth + 1)}:${s.sharpV ? ' ' : ''}${formatV(x, s, depth + 1)}`);
      return s.sharpV ? `${typeName(a)}{${inner.join(', ')}}` : `map[${inner.join(' ')}]`;
    }
    case 'struct': {
      if (a instanceof Date) return pad(goTime(a), s);
      const fields = fieldsOf(a as object);
      if (s.sharpV) return `${typeName(a)}{${fields.map(([n, x]) => `${n}:${formatV(x, s, depth + 1)}`).join(', ')}}`;
      return `{${fields.map(([n, x]) => (s.plusV ? `${n}:` : '') + formatV(x, s, depth + 1)).join(' ')}}`;
    }
    default:
      return pad(String(a), s);
  }
}

/** A Date as Go's time.Time prints (`2006-01-02 15:04:05.999999999 +0000 UTC`). */
function goTime(d: Date): string {
  return goTimeString(d.toISOString());
}

/**
 * An RFC 3339 timestamp as Go's time.Time prints in UTC (`2026-12-07 00:27:59.479854773 +0000 UTC`): the
 * fraction keeps the digits the timestamp has (up to nanoseconds), without trailing zeros. Invalid input is returned as is.
 */
export function goTimeString(rfc3339: string): string {
  const ms = Date.parse(rfc3339);
  if (Number.isNaN(ms)) return rfc3339;
  const iso = new Date(ms).toISOString();
  const fracDigits = /T\d\d:\d\d:\d\d\.(\d+)/.exec(rfc3339)?.[1] ?? '';
  const utcOffsetZero = /(Z|[+-]00:?00)$/.test(rfc3339);
  const frac = (utcOffsetZero ? fracDigits.slice(0, 9) : iso.slice(20, 23)).replace(/0+$/, '');
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${frac ? `.${frac}` : ''} +0000 UTC`;
}

function formatString(v: string, verb: string, s: Spec): string | undefined {
  switch (verb) {
    case 's':
    case 'v': {
      const t = s.prec !== undefined ? [...v].slice(0, s.prec).join('') : v;
      return pad(t, s);
    }
    case 'q': {
      const t = s.prec !== undefined ? [...v].slice(0, s.prec).join('') : v;
      if (s.sharp && !/[`\u0000-\u0008\u000a-\u001f\u007f]/.test(t)) return pad(`\`${t}\``, s);
      return pad(quote(t, s.plus), s);
    }
    case 'x':
    case 'X': {
      let bytes = [...Buffer.from(v, 'utf8')];
      if (s.prec !== undefined) bytes = bytes.slice(0, s.prec);
      const hex = bytes.map((b) => b.toString(16).padStart(2, '0'));
      const prefix = s.sharp ? '0x' : '';
      let out = s.space ? hex.map((h) => prefix + h).join(' ') : prefix + hex.join('');
      if (verb === 'X') out = out.toUpperCase();
      return pad(out, s);
    }
    default:
      return undefined;
  }
}

/** strconv.Quote (and QuoteToASCII when `ascii`). */
export function quote(v: string, ascii = false): string {
  let out = '"';
  for (const ch of v) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (c === 7) out += '\\a';
    else if (c === 8) out += '\\b';
    else if (c === 12) out += '\\f';
    else if (c === 10) out += '\\n';
    else if (c === 13) out += '\\r';
    else if (c === 9) out += '\\t';
    else if (c === 11) out += '\\v';
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else if ((ascii && c > 0x7e) || (c >= 0x80 && c < 0xa0) || c === 0xfffd) out += c > 0xffff ? `\\U${c.toString(16).padStart(8, '0')}` : `\\u${c.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

function formatInt(v: bigint, verb: string, s: Spec): string | undefined {
  const neg = v < 0n;
  const abs = neg ? -v : v;
  let digits: string;
  let prefix = '';
  switch (verb) {
    case 'd':
    case 'v':
      digits = abs.toString(10);
      break;
    case 'b':
      digits = abs.toString(2);
      if (s.sharp) prefix = '0b';
      break;
    case 'o':
      digits = abs.toString(8);
      if (s.sharp) prefix = '0';
      break;
    case 'O':
      digits = abs.toString(8);
      prefix = '0o';
      break;
    case 'x':
      digits = abs.toString(16);
      if (s.sharp) prefix = '0x';
      break;
    case 'X':
      digits = abs.toString(16).toUpperCase();
      if (s.sharp) prefix = '0X';
      break;
    case 'c':
      return pad(String.fromCodePoint(Number(v) >= 0 && Number(v) <= 0x10ffff ? Number(v) : 0xfffd), s);
    case 'q': {
      const ch = String.fromCodePoint(Number(v) >= 0 && Number(v) <= 0x10ffff ? Number(v) : 0xfffd);
      const q = quote(ch, s.plus);
      return pad(`'${q.slice(1, -1).replace(/\\"/g, '"').replace(/'/g, "\\'")}'`, s);
    }
    case 'U': {
      let u = `U+${abs.toString(16).toUpperCase().padStart(4, '0')}`;
      if (s.sharp && v >= 0n && v <= 0x10ffffn) u += ` '${String.fromCodePoint(Number(v))}'`;
      return pad(u, s);
    }
    case 'e':
    case 'E':
    case 'f':
    case 'F':
    case 'g':
    case 'G':
    case 's':
    case 't':
    default:
      return undefined;
  }
  if (s.prec !== undefined) {
    if (s.prec === 0 && v === 0n) digits = '';
    digits = digits.padStart(s.prec, '0');
  }
  if (verb === 'o' && s.sharp && digits.startsWith('0')) prefix = '';
  const sign = neg ? '-' : s.plus ? '+' : s.space ? ' ' : '';
  const body = prefix + digits;
  const w = s.width ?? 0;
  if (s.zero && !s.minus && s.prec === undefined && w > sign.length + body.length) {
    return sign + prefix + '0'.repeat(w - sign.length - body.length) + digits;
  }
  return pad(sign + body, { ...s, zero: false });
}

/**
 * The decimal digits (no trailing zeros) and decimal-point position of |x|: the shortest that reads back as x
 * when `prec` is undefined (as Go's and JavaScript's shortest forms agree), else x's exact binary value rounded
 * to `prec` significant digits, half to even, as strconv does.
 */
function decimal(x: number, prec?: number): { d: string; dp: number } {
  if (x === 0) return { d: '0', dp: 1 };
  if (prec === undefined) {
    const [mant, exp] = Math.abs(x).toExponential().split('e') as [string, string];
    return { d: mant.replace('.', '').replace(/0+$/, '') || '0', dp: Number(exp) + 1 };
  }
  const { d, dp } = exactDecimal(Math.abs(x));
  return roundDigits(d, dp, Math.max(prec, 1));
}

/** The exact decimal expansion of a positive finite double: its digits (no trailing zeros) and decimal point. */
function exactDecimal(a: number): { d: string; dp: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, a);
  const bits = view.getBigUint64(0);
  const expBits = Number((bits >> 52n) & 0x7ffn);
  let mant = bits & ((1n << 52n) - 1n);
  let e2: number;
  if (expBits === 0) e2 = -1074;
  else {
    mant |= 1n << 52n;
    e2 = expBits - 1075;
  }
  let s: string;
  let dp: number;
  if (e2 >= 0) {
    s = (mant << BigInt(e2)).toString();
    dp = s.length;
  } else {
    s = (mant * 5n ** BigInt(-e2)).toString(); // a = s / 10^-e2
    dp = s.length + e2;
  }
  const lead = /^0*/.exec(s)![0].length;
  return { d: s.slice(lead).replace(/0+$/, '') || '0', dp: dp - lead };
}

/** Rounds digits `d` (decimal point at `dp`) to `n` significant digits, half to even; trailing zeros dropped. */
function roundDigits(d: string, dp: number, n: number): { d: string; dp: number } {
  if (n < 0) return { d: '0', dp: 1 };
  if (d.length <= n) return { d, dp };
  const next = d.charCodeAt(n) - 48;
  const rest = /[1-9]/.test(d.slice(n + 1));
  const prevOdd = n > 0 && (d.charCodeAt(n - 1) - 48) % 2 === 1;
  const up = next > 5 || (next === 5 && (rest || prevOdd));
  let kept = d.slice(0, n);
  if (up) {
    const digits = kept.split('').map(Number);
    let i = digits.length - 1;
    while (i >= 0 && digits[i] === 9) digits[i--] = 0;
    if (i < 0) {
      digits.unshift(1);
      dp++;
    } else digits[i]!++;
    kept = digits.join('');
  }
  kept = kept.replace(/0+$/, '');
  return kept === '' ? { d: '0', dp: 1 } : { d: kept, dp };
}

/** |x| with `prec` digits after the point (%f), from x's exact value rounded half to even. */
function fixed(a: number, prec: number): string {
  if (a === 0) return fmtF('0', 1, prec);
  const { d, dp } = exactDecimal(a);
  const r = roundDigits(d, dp, dp + prec);
  return fmtF(r.d, r.dp, prec);
}

/** %x of a float: Go's hexadecimal mantissa and binary exponent (`0x1.8p+01`), `prec` hex digits when given. */
function hexFloat(a: number, prec: number | undefined, upper: boolean): string {
  let out: string;
  if (a === 0) out = `0x0${prec ? `.${'0'.repeat(prec)}` : ''}p+00`;
  else {
    let exp = Math.floor(Math.log2(a));
    let m = a / 2 ** exp;
    if (m >= 2) {
      m /= 2;
      exp++;
    } else if (m < 1) {
      m *= 2;
      exp--;
    }
    let frac = Math.round((m - 1) * 2 ** 52).toString(16).padStart(13, '0');
    if (prec !== undefined) {
      const scaled = Math.round((m - 1) * 16 ** prec);
      if (scaled >= 16 ** prec && prec > 0) {
        exp++;
        frac = '0'.repeat(prec);
      } else frac = prec === 0 ? '' : scaled.toString(16).padStart(prec, '0');
    } else frac = frac.replace(/0+$/, '');
    const ea = Math.abs(exp);
    out = `0x1${frac ? `.${frac}` : ''}p${exp < 0 ? '-' : '+'}${ea < 10 ? `0${ea}` : ea}`;
  }
  return upper ? out.toUpperCase() : out;
}

function fmtE(d: string, dp: number, prec: number, e: string, zero: boolean): string {
  let out = d[0] ?? '0';
  if (prec > 0) out += `.${d.slice(1, prec + 1).padEnd(prec, '0')}`;
  const exp = zero ? 0 : dp - 1;
  const ea = Math.abs(exp);
  return `${out}${e}${exp < 0 ? '-' : '+'}${ea < 10 ? `0${ea}` : ea}`;
}

function fmtF(d: string, dp: number, prec: number): string {
  let int: string;
  if (dp > 0) int = d.slice(0, dp).padEnd(dp, '0');
  else int = '0';
  let out = int;
  if (prec > 0) {
    let frac = '';
    for (let i = 0; i < prec; i++) {
      const j = dp + i;
      frac += j < 0 || j >= d.length ? '0' : d[j];
    }
    out += `.${frac}`;
  }
  return out;
}

function formatFloat(x: number, verb: string, s: Spec): string | undefined {
  if (!'eEfFgGvbxX'.includes(verb)) return undefined;
  let body: string;
  const neg = x < 0 || Object.is(x, -0);
  const a = Math.abs(x);
  if (Number.isNaN(x)) body = 'NaN';
  else if (!Number.isFinite(x)) body = 'Inf';
  else {
    switch (verb) {
      case 'e':
      case 'E': {
        const p = s.prec ?? 6;
        const { d, dp } = decimal(a, p + 1);
        body = fmtE(d, dp, p, verb, a === 0);
        if (s.sharp && !body.includes('.')) body = body.replace(/[eE]/, '.$&');
        break;
      }
      case 'f':
      case 'F': {
        const p = s.prec ?? 6;
        body = fixed(a, p);
        if (s.sharp && !body.includes('.')) body += '.';
        break;
      }
      case 'x':
      case 'X':
        body = hexFloat(a, s.prec, verb === 'X');
        break;
      case 'b':
        body = String(a);
        break;
      default: {
        // g, G, v
        const shortest = s.prec === undefined;
        let prec = shortest ? undefined : s.prec === 0 ? 1 : s.prec!;
        const { d, dp } = a === 0 ? { d: '0', dp: 1 } : decimal(a, prec);
        if (prec === undefined) prec = d.length;
        let eprec = prec;
        if (eprec > d.length && d.length >= dp) eprec = d.length;
        if (shortest) eprec = 6;
        const exp = dp - 1;
        const e = verb === 'G' ? 'E' : 'e';
        if (a !== 0 && (exp < -4 || exp >= eprec)) {
          body = fmtE(d, dp, Math.min(prec, d.length) - 1, e, false);
        } else {
          const p2 = prec > dp ? d.length : prec;
          body = a === 0 ? '0' : fmtF(d, dp, Math.max(p2 - dp, 0));
        }
        if (s.sharp && !body.includes('.')) body = body.replace(/^(\d+)/, '$1.');
      }
    }
  }
  const sign = neg && !Number.isNaN(x) ? '-' : s.plus ? '+' : s.space ? ' ' : '';
  const out = sign + body;
  if (!Number.isFinite(x)) return pad(out, { ...s, zero: false });
  return pad(out, s, true);
}
