import { lex, type Item } from './lex.ts';
import { GoFloat } from './value.ts';

/**
 * The parser of Go's text/template: builds the node tree of a template and of the templates it `define`s or
 * `block`s, checking what Go checks at parse time (functions exist, variables are declared, `end`/`else`
 * balance, `break`/`continue` inside `range`, non-executable pipeline stages). Errors are `TemplateParseError`
 * with Go's text: `template: NAME:LINE: MESSAGE`.
 */
export type Arg =
  | { type: 'field'; pos: number; ident: string[] }
  | { type: 'variable'; pos: number; ident: string[] }
  | { type: 'dot'; pos: number }
  | { type: 'nil'; pos: number }
  | { type: 'bool'; pos: number; val: boolean }
  | { type: 'number'; pos: number; val: number | bigint | GoFloat; text: string; isInt: boolean }
  | { type: 'string'; pos: number; val: string; text: string }
  | { type: 'identifier'; pos: number; name: string }
  | { type: 'pipe'; pos: number; pipe: Pipe }
  | { type: 'chain'; pos: number; node: Arg; field: string[] };

/** One command of a pipeline: a function or value and its arguments. */
export interface Cmd {
  pos: number;
  args: Arg[];
}

/** A pipeline with its optional variable declarations (`$x :=`) or assignment (`$x =`). */
export interface Pipe {
  pos: number;
  isAssign: boolean;
  decl: string[];
  cmds: Cmd[];
}

/** A node of a template's body. */
export type Node =
  | { type: 'text'; text: string }
  | { type: 'action'; pos: number; pipe: Pipe }
  | { type: 'if' | 'range' | 'with'; pos: number; pipe: Pipe; list: Node[]; elseList?: Node[] }
  | { type: 'template'; pos: number; name: string; pipe?: Pipe }
  | { type: 'break' | 'continue'; pos: number };

/** A template parse error with Go's message. */
export class TemplateParseError extends Error {}

/** The trees of one parse: the main one and every `define`d or `block`ed one, by name. */
export interface ParsedTemplates {
  main: Node[];
  defined: Map<string, Node[]>;
}

type EndNode = { type: 'end' | 'else'; pos: number; elseKeyword?: 'if' };

/** Parses `src` as template `name` with the function names `funcs`. */
export function parseTemplate(name: string, src: string, funcs: ReadonlySet<string>): ParsedTemplates {
  const items = lex(src).filter((it) => it.type !== 'comment');
  let i = 0;
  let vars: string[] = ['$'];
  let rangeDepth = 0;
  const defined = new Map<string, Node[]>();
  let lastLine = 1;

  const errorf = (msg: string): never => {
    throw new TemplateParseError(`template: ${name}:${lastLine}: ${msg}`);
  };
  const next = (): Item => {
    const it = items[i] ?? items[items.length - 1]!;
    if (i < items.length) i++;
    lastLine = it.line;
    if (it.type === 'error') errorf(it.val);
    return it;
  };
  const peek = (): Item => items[i] ?? items[items.length - 1]!;
  const backup = (n = 1): void => {
    i -= n;
  };
  const nextNonSpace = (): Item => {
    let t = next();
    while (t.type === 'space') t = next();
    return t;
  };
  const peekNonSpace = (): Item => {
    const t = nextNonSpace();
    backup();
    return t;
  };
  const describe = (t: Item): string => {
    if (t.type === 'eof') return 'EOF';
    if (t.type === 'keyword') return `<${t.val}>`;
    if (t.type === 'leftDelim' || t.type === 'rightDelim') return `"${t.val}"`;
    return t.val.length > 10 ? `${JSON.stringify(t.val.slice(0, 10))}...` : JSON.stringify(t.val);
  };
  const unexpected = (t: Item, context: string): never => errorf(`unexpected ${describe(t)} in ${context}`);
  const expect = (type: Item['type'], context: string): Item => {
    const t = nextNonSpace();
    if (t.type !== type) unexpected(t, context);
    return t;
  };

  function itemList(): { list: Node[]; end: EndNode } {
    const list: Node[] = [];
    while (peekNonSpace().type !== 'eof') {
      const n = textOrAction();
      if (n.type === 'end' || n.type === 'else') return { list, end: n as EndNode };
      list.push(n as Node);
    }
    return errorf('unexpected EOF');
  }

  function textOrAction(): Node | EndNode {
    const t = nextNonSpace();
    if (t.type === 'text') return { type: 'text', text: t.val };
    if (t.type === 'leftDelim') return action();
    return unexpected(t, 'input');
  }

  function action(): Node | EndNode {
    const t = nextNonSpace();
    if (t.type === 'keyword') {
      switch (t.val) {
        case 'block':
          return blockControl(t);
        case 'break':
        case 'continue': {
          if (rangeDepth === 0) errorf(`{{${t.val}}} outside {{range}}`);
          const r = nextNonSpace();
          if (r.type !== 'rightDelim') unexpected(r, `{{${t.val}}}`);
          return { type: t.val, pos: t.pos };
        }
        case 'else': {
          const p = peekNonSpace();
          // `{{else if …}}` (podman 4.3's Go has no `{{else with …}}`)
          if (p.type === 'keyword' && p.val === 'if') return { type: 'else', pos: t.pos, elseKeyword: 'if' };
          expect('rightDelim', 'else');
          return { type: 'else', pos: t.pos };
        }
        case 'end':
          expect('rightDelim', 'end');
          return { type: 'end', pos: t.pos };
        case 'if':
        case 'range':
        case 'with':
          return control(t.val, t.pos);
        case 'template':
          return templateControl(t);
        case 'define':
          return errorf('unexpected <define> in command');
      }
    }
    backup();
    const pos = peek().pos;
    return { type: 'action', pos, pipe: pipeline('command', 'rightDelim') };
  }

  function control(kind: 'if' | 'range' | 'with', pos: number): Node {
    const mark = vars.length;
    const pipe = pipeline(kind, 'rightDelim');
    if (kind === 'range') rangeDepth++;
    const { list, end } = itemList();
    if (kind === 'range') rangeDepth--;
    let elseList: Node[] | undefined;
    if (end.type === 'else') {
      if (end.elseKeyword && kind === 'if') {
        // `{{else if …}}`: the rest is a nested if/with that consumes the final {{end}}
        const kw = nextNonSpace();
        elseList = [control('if', kw.pos)];
      } else {
        if (end.elseKeyword) errorf(`unexpected <${end.elseKeyword}> in input`);
        const r = itemList();
        if (r.end.type !== 'end') errorf('expected end; found {{else}}');
        elseList = r.list;
      }
    }
    vars = vars.slice(0, mark);
    return { type: kind, pos, pipe, list, ...(elseList ? { elseList } : {}) };
  }

  function templateName(context: string): { name: string; pos: number } {
    const t = nextNonSpace();
    if (t.type !== 'string' && t.type !== 'rawString') unexpected(t, context);
    return { name: unquote(t.val, errorf), pos: t.pos };
  }

  function templateControl(_kw: Item): Node {
    const { name: tname, pos } = templateName('template clause');
    let pipe: Pipe | undefined;
    if (peekNonSpace().type !== 'rightDelim') pipe = pipeline('template clause', 'rightDelim');
    else nextNonSpace();
    return { type: 'template', pos, name: tname, ...(pipe ? { pipe } : {}) };
  }

  function blockControl(_kw: Item): Node {
    const { name: tname, pos } = templateName('block clause');
    const pipe = pipeline('block clause', 'rightDelim');
    const saved = vars;
    vars = ['$'];
    const { list, end } = itemList();
    if (end.type !== 'end') errorf('unexpected {{else}} in block clause');
    vars = saved;
    define(tname, list);
    return { type: 'template', pos, name: tname, pipe };
  }

  function define(tname: string, list: Node[]): void {
    const empty = (l: Node[]): boolean => l.every((n) => n.type === 'text' && n.text.trim() === '');
    const old = defined.get(tname);
    if (old && !empty(old)) {
      if (empty(list)) return;
      errorf(`template: multiple definition of template "${tname}"`);
    }
    defined.set(tname, list);
  }

  function pipeline(context: string, end: 'rightDelim' | 'rightParen'): Pipe {
    const pipe: Pipe = { pos: peekNonSpace().pos, isAssign: false, decl: [], cmds: [] };
    for (;;) {
      const v = peekNonSpace();
      if (v.type !== 'variable') break;
      nextNonSpace();
      const vIndex = i - 1;
      const n = peekNonSpace();
      if (n.type === 'assign' || n.type === 'declare') {
        pipe.isAssign = n.type === 'assign';
        nextNonSpace();
        pipe.decl.push(v.val);
        if (!pipe.isAssign) vars.push(v.val); // an assignment to an undeclared variable fails when executed, as in Go
        break;
      }
      if (n.type === 'char2' && n.val === ',') {
        nextNonSpace();
        pipe.decl.push(v.val);
        vars.push(v.val);
        if (context === 'range' && pipe.decl.length < 2) {
          const p = peekNonSpace().type;
          if (p === 'variable' || p === 'rightDelim' || p === 'rightParen') continue;
          errorf('range can only initialize variables');
        }
        errorf(`too many declarations in ${context}`);
      }
      i = vIndex; // not a declaration: put the variable back
      break;
    }
    for (;;) {
      const t = nextNonSpace();
      if (t.type === end) {
        if (pipe.cmds.length === 0) errorf(`missing value for ${context}`);
        pipe.cmds.slice(1).forEach((c, k) => {
          const first = c.args[0]!.type;
          if (first === 'bool' || first === 'dot' || first === 'nil' || first === 'number' || first === 'string') errorf(`non executable command in pipeline stage ${k + 2}`);
        });
        return pipe;
      }
      switch (t.type) {
        case 'bool':
        case 'char':
        case 'dot':
        case 'field':
        case 'identifier':
        case 'number':
        case 'nil':
        case 'rawString':
        case 'string':
        case 'variable':
        case 'leftParen':
          backup();
          pipe.cmds.push(command());
          break;
        default:
          unexpected(t, context);
      }
    }
  }

  function command(): Cmd {
    const cmd: Cmd = { pos: peekNonSpace().pos, args: [] };
    for (;;) {
      peekNonSpace();
      const op = operand();
      if (op) cmd.args.push(op);
      const t = next();
      if (t.type === 'space') continue;
      if (t.type === 'rightDelim' || t.type === 'rightParen') backup();
      else if (t.type !== 'pipe') unexpected(t, 'operand');
      break;
    }
    if (cmd.args.length === 0) errorf('empty command');
    return cmd;
  }

  function operand(): Arg | undefined {
    const node = term();
    if (!node) return undefined;
    if (peek().type !== 'field') return node;
    const chainPos = peek().pos;
    const fields: string[] = [];
    while (peek().type === 'field') fields.push(next().val.slice(1));
    switch (node.type) {
      case 'field':
        return { type: 'field', pos: chainPos, ident: [...node.ident, ...fields] };
      case 'variable':
        return { type: 'variable', pos: chainPos, ident: [...node.ident, ...fields] };
      case 'bool':
      case 'string':
      case 'number':
      case 'nil':
      case 'dot':
        return errorf(`unexpected . after term ${JSON.stringify(argString(node))}`);
      default:
        return { type: 'chain', pos: chainPos, node, field: fields };
    }
  }

  function term(): Arg | undefined {
    const t = nextNonSpace();
    switch (t.type) {
      case 'identifier':
        if (!funcs.has(t.val)) errorf(`function "${t.val}" not defined`);
        return { type: 'identifier', pos: t.pos, name: t.val };
      case 'dot':
        return { type: 'dot', pos: t.pos };
      case 'nil':
        return { type: 'nil', pos: t.pos };
      case 'variable':
        if (!vars.includes(t.val)) errorf(`undefined variable "${t.val}"`);
        return { type: 'variable', pos: t.pos, ident: [t.val] };
      case 'field':
        return { type: 'field', pos: t.pos, ident: [t.val.slice(1)] };
      case 'bool':
        return { type: 'bool', pos: t.pos, val: t.val === 'true' };
      case 'char':
      case 'number':
        return numberNode(t);
      case 'leftParen': {
        const pipe = pipeline('parenthesized pipeline', 'rightParen');
        return { type: 'pipe', pos: t.pos, pipe };
      }
      case 'string':
      case 'rawString':
        return { type: 'string', pos: t.pos, val: unquote(t.val, errorf), text: t.val };
    }
    backup();
    return undefined;
  }

  function numberNode(t: Item): Arg {
    if (t.type === 'char') {
      const s = unquote(`"${t.val.slice(1, -1).replace(/"/g, '\\"').replace(/\\'/g, "'")}"`, errorf);
      if ([...s].length !== 1) errorf(`malformed character constant: ${t.val}`);
      return { type: 'number', pos: t.pos, val: s.codePointAt(0)!, text: t.val, isInt: true };
    }
    const text = t.val.replace(/_/g, '');
    if (text.endsWith('i')) errorf(`complex numbers are not supported: ${JSON.stringify(t.val)}`);
    const neg = text.startsWith('-');
    const body = text.replace(/^[+-]/, '');
    let int: bigint | undefined;
    if (/^0[xX][0-9a-fA-F]+$/.test(body) || /^0[bB][01]+$/.test(body) || /^0[oO][0-7]+$/.test(body)) int = BigInt(body.replace(/^0[oO]/, '0o'));
    else if (/^0[0-7]*$/.test(body)) int = BigInt(`0o0${body.slice(1)}`);
    else if (/^[1-9]\d*$/.test(body)) int = BigInt(body);
    if (int !== undefined) {
      const v = neg ? -int : int;
      if (v >= -(2n ** 63n) && v < 2n ** 64n) {
        const val = v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
        return { type: 'number', pos: t.pos, val, text: t.val, isInt: true };
      }
    }
    const f = parseGoFloat(body);
    if (f === undefined) return errorf(`illegal number syntax: ${JSON.stringify(t.val)}`);
    // a float that looks like an integer is an integer too large (or malformed, like 08)
    if (!/[.eEpP]/.test(body) || /^0[xX][^pP]*$/.test(body)) errorf(`integer overflow: ${JSON.stringify(t.val)}`);
    const x = neg ? -f : f;
    return { type: 'number', pos: t.pos, val: Number.isInteger(x) ? new GoFloat(x) : x, text: t.val, isInt: false };
  }

  // top level: text, actions and {{define}}s
  const main: Node[] = [];
  while (peek().type !== 'eof') {
    if (peek().type === 'leftDelim') {
      const save = i;
      next();
      const kw = nextNonSpace();
      if (kw.type === 'keyword' && kw.val === 'define') {
        const { name: tname } = templateName('define clause');
        expect('rightDelim', 'define clause');
        const saved = vars;
        vars = ['$'];
        const { list, end } = itemList();
        if (end.type !== 'end') errorf('unexpected {{else}} in define clause');
        vars = saved;
        define(tname, list);
        continue;
      }
      i = save;
    }
    const n = textOrAction();
    if (n.type === 'end' || n.type === 'else') errorf(`unexpected {{${n.type}}}`);
    main.push(n as Node);
  }
  return { main, defined };
}

/** strconv.ParseFloat of a number literal without sign or underscores (decimal or hexadecimal); undefined if malformed. */
function parseGoFloat(s: string): number | undefined {
  if (/^(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) return Number(s);
  const hex = /^0[xX]([0-9a-fA-F]*)\.?([0-9a-fA-F]*)[pP]([+-]?\d+)$/.exec(s);
  if (hex && (hex[1] || hex[2])) {
    const mant = parseInt(`${hex[1]}${hex[2]}` || '0', 16) / 16 ** hex[2]!.length;
    return mant * 2 ** Number(hex[3]);
  }
  return undefined;
}

/** Go's strconv.Unquote for "…" and `…` literals. */
export function unquote(lit: string, errorf: (m: string) => never): string {
  if (lit.startsWith('`')) return lit.slice(1, -1).replace(/\r/g, '');
  const s = lit.slice(1, -1);
  let out = '';
  for (let k = 0; k < s.length; k++) {
    const c = s[k]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = s[++k];
    const simple: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', '"': '"', "'": "'" };
    if (e !== undefined && e in simple) out += simple[e];
    else if (e === 'x' || e === 'u' || e === 'U') {
      const n = e === 'x' ? 2 : e === 'u' ? 4 : 8;
      const hex = s.slice(k + 1, k + 1 + n);
      if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(hex)) errorf('invalid syntax');
      const cp = parseInt(hex, 16);
      out += e === 'x' ? String.fromCharCode(cp) : String.fromCodePoint(cp);
      k += n;
    } else if (e !== undefined && /[0-7]/.test(e)) {
      const oct = s.slice(k, k + 3);
      if (!/^[0-7]{3}$/.test(oct)) errorf('invalid syntax');
      out += String.fromCharCode(parseInt(oct, 8));
      k += 2;
    } else errorf('invalid syntax');
  }
  return out;
}

/** A node as Go prints it in error contexts (`.Config.Nope`, `index .A 1`, `$x`). */
export function argString(a: Arg): string {
  switch (a.type) {
    case 'field':
      return a.ident.map((x) => `.${x}`).join('');
    case 'variable':
      return a.ident.join('.');
    case 'dot':
      return '.';
    case 'nil':
      return 'nil';
    case 'bool':
      return String(a.val);
    case 'number':
      return a.text;
    case 'string':
      return a.text;
    case 'identifier':
      return a.name;
    case 'pipe':
      return `(${pipeString(a.pipe)})`;
    case 'chain':
      return `${argString(a.node)}${a.field.map((x) => `.${x}`).join('')}`;
  }
}

/** A command as Go prints it. */
export function cmdString(c: Cmd): string {
  return c.args.map((a) => (a.type === 'pipe' ? `(${pipeString(a.pipe)})` : argString(a))).join(' ');
}

/** A pipeline as Go prints it. */
export function pipeString(p: Pipe): string {
  const decl = p.decl.length ? `${p.decl.join(', ')} ${p.isAssign ? '=' : ':='} ` : '';
  return decl + p.cmds.map(cmdString).join(' | ');
}
