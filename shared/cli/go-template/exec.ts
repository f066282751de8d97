import { formatV } from './fmt.ts';
import { FUNCS, FuncError, type ParamType } from './funcs.ts';
import { argString, cmdString, type Arg, type Cmd, type Node, type Pipe, type ParsedTemplates } from './parse.ts';
import { entriesOf, fieldGet, fieldValue, isTrue, kindOf, mapGet, noteField, num, structName, typeName } from './value.ts';

/**
 * The executor of Go's text/template over the value model of value.ts: pipelines, variables and their scopes,
 * if/with/range (slices, maps in key order, ints) with else and break/continue, template invocation, and Go's
 * execution errors (`template: NAME:LINE:COL: executing "NAME" at <NODE>: MESSAGE`) — a struct without the
 * field fails, a map without the key gives the invalid value that prints `<no value>`.
 */
export class TemplateExecError extends Error {}

const MISSING = Symbol('missing');
const MAX_DEPTH = 100000;

class Break {}
class Continue {}

type ControlNode = Extract<Node, { type: 'if' | 'range' | 'with' }>;

interface Var {
  name: string;
  value: unknown;
}

/** Executes the parsed templates of source `src` named `name` with `data` as dot; returns the output. */
export function execute(name: string, src: string, parsed: ParsedTemplates, data: unknown): string {
  const out: string[] = [];
  let executing = name;
  let depth = 0;
  let at: { pos: number; context: string } = { pos: 0, context: '' };

  const errorf = (msg: string): never => {
    const before = src.slice(0, at.pos);
    const nl = before.lastIndexOf('\n');
    const line = before.split('\n').length;
    const col = Buffer.byteLength(nl < 0 ? before : before.slice(nl + 1));
    throw new TemplateExecError(`template: ${name}:${line}:${col}: executing "${executing}" at <${at.context}>: ${msg}`);
  };
  const setAt = (pos: number, context: string): void => {
    at = { pos, context };
  };

  function walk(dot: unknown, list: Node[], vars: Var[]): void {
    for (const n of list) walkNode(dot, n, vars);
  }

  function walkNode(dot: unknown, n: Node, vars: Var[]): void {
    switch (n.type) {
      case 'text':
        out.push(n.text);
        return;
      case 'action': {
        const v = evalPipeline(dot, n.pipe, vars);
        if (n.pipe.decl.length === 0) printValue(n.pos, n.pipe, v);
        return;
      }
      case 'if':
      case 'with': {
        const mark = vars.length;
        const v = evalPipeline(dot, n.pipe, vars);
        if (isTrue(v)) walk(n.type === 'with' ? v : dot, n.list, vars);
        else if (n.elseList) walk(dot, n.elseList, vars);
        vars.length = mark;
        return;
      }
      case 'range':
        return walkRange(dot, n as ControlNode, vars);
      case 'template': {
        const tree = parsed.defined.get(n.name);
        if (!tree) {
          setAt(n.pos, `{{template ${JSON.stringify(n.name)}${n.pipe ? ` ${pipePrint(n.pipe)}` : ''}}}`);
          errorf(`template ${JSON.stringify(n.name)} not defined`);
        }
        const newDot = n.pipe ? evalPipeline(dot, n.pipe, vars) : undefined;
        if (++depth >= MAX_DEPTH) errorf(`exceeded maximum template depth (${MAX_DEPTH})`);
        const saved = executing;
        executing = n.name;
        walk(newDot, tree!, [{ name: '$', value: newDot }]);
        executing = saved;
        depth--;
        return;
      }
      case 'break':
        throw new Break();
      case 'continue':
        throw new Continue();
    }
  }

  function walkRange(dot: unknown, r: ControlNode, vars: Var[]): void {
    const mark = vars.length;
    const val = evalPipeline(dot, r.pipe, vars);
    const itemMark = vars.length;
    const one = (index: unknown, elem: unknown): boolean => {
      if (r.pipe.decl.length > 0) {
        if (r.pipe.isAssign) {
          setVar(vars, r.pipe.decl[0]!, r.pipe.decl.length > 1 ? index : elem);
          if (r.pipe.decl.length > 1) setVar(vars, r.pipe.decl[1]!, elem);
        } else {
          vars[vars.length - 1]!.value = elem;
          if (r.pipe.decl.length > 1) vars[vars.length - 2]!.value = index;
        }
      }
      try {
        walk(elem, r.list, vars);
      } catch (e) {
        if (e instanceof Break) return false;
        if (!(e instanceof Continue)) throw e;
      } finally {
        vars.length = itemMark;
      }
      return true;
    };
    let ran = false;
    switch (kindOf(val)) {
      case 'slice':
        for (const [i, x] of (val as unknown[]).entries()) {
          ran = true;
          if (!one(i, x)) break;
        }
        break;
      case 'map':
      case 'struct':
        for (const [k, x] of entriesOf(val)) {
          ran = true;
          if (!one(k, x)) break;
        }
        break;
      case 'invalid':
      case 'nil':
        break;
      default:
        errorf(`range can't iterate over ${formatV(val, { minus: false, plus: false, sharp: false, space: false, zero: false, plusV: false, sharpV: false }, 0)}`);
    }
    if (!ran && r.elseList) walk(dot, r.elseList, vars);
    vars.length = mark;
  }

  function setVar(vars: Var[], name: string, value: unknown): void {
    for (let i = vars.length - 1; i >= 0; i--) {
      if (vars[i]!.name === name) {
        vars[i]!.value = value;
        return;
      }
    }
    errorf(`undefined variable: ${name}`);
  }

  function varValue(vars: Var[], name: string): unknown {
    for (let i = vars.length - 1; i >= 0; i--) if (vars[i]!.name === name) return vars[i]!.value;
    return errorf(`undefined variable: ${name}`);
  }

  function printValue(pos: number, pipe: Pipe, v: unknown): void {
    if (v === undefined) {
      out.push('<no value>');
      return;
    }
    if (typeof v === 'function') {
      setAt(pos, pipePrint(pipe));
      errorf(`can't print ${pipePrint(pipe)} of type ${typeName(v)}`);
    }
    out.push(formatV(v, { minus: false, plus: false, sharp: false, space: false, zero: false, plusV: false, sharpV: false }, 0));
  }

  function evalPipeline(dot: unknown, pipe: Pipe, vars: Var[]): unknown {
    let value: unknown = MISSING;
    for (const cmd of pipe.cmds) value = evalCommand(dot, cmd, value, vars);
    for (const d of pipe.decl) {
      if (pipe.isAssign) setVar(vars, d, value);
      else vars.push({ name: d, value });
    }
    return value;
  }

  function notAFunction(args: Arg[], final: unknown): void {
    if (args.length > 1 || final !== MISSING) errorf(`can't give argument to non-function ${argString(args[0]!)}`);
  }

  function evalCommand(dot: unknown, cmd: Cmd, final: unknown, vars: Var[]): unknown {
    const first = cmd.args[0]!;
    switch (first.type) {
      case 'field':
        setAt(first.pos, argString(first));
        return evalFieldChain(dot, first, first.ident, cmd.args, final);
      case 'chain': {
        if (first.node.type === 'nil') errorf(`indirection through explicit nil in ${argString(first)}`);
        setAt(first.pos, argString(first));
        const recv = evalArg(dot, 'value', first.node, vars);
        return evalFieldChain(recv, first, first.field, cmd.args, final);
      }
      case 'identifier':
        return evalFunction(dot, first.name, cmd, final, vars);
      case 'pipe':
        setAt(first.pos, argString(first));
        notAFunction(cmd.args, final);
        return evalPipeline(dot, first.pipe, vars);
      case 'variable': {
        setAt(first.pos, argString(first));
        const v = varValue(vars, first.ident[0]!);
        if (first.ident.length === 1) {
          notAFunction(cmd.args, final);
          return v;
        }
        return evalFieldChain(v, first, first.ident.slice(1), cmd.args, final);
      }
    }
    setAt(first.pos, argString(first));
    notAFunction(cmd.args, final);
    switch (first.type) {
      case 'bool':
        return first.val;
      case 'dot':
        return dot;
      case 'nil':
        return errorf('nil is not a command');
      case 'number':
        return first.val;
      case 'string':
        return first.val;
    }
  }

  function evalFieldChain(receiver: unknown, node: Arg, ident: string[], args: Arg[], final: unknown): unknown {
    let r = receiver;
    for (let i = 0; i < ident.length - 1; i++) r = evalField(ident[i]!, node, [], MISSING, r);
    return evalField(ident[ident.length - 1]!, node, args, final, r);
  }

  function evalField(fieldName: string, _node: Arg, args: Arg[], final: unknown, receiver: unknown): unknown {
    if (receiver === undefined) return undefined;
    const hasArgs = args.length > 1 || final !== MISSING;
    const k = kindOf(receiver);
    if (k === 'nil') errorf(`nil pointer evaluating interface {}.${fieldName}`);
    if (k === 'struct') {
      const f = fieldGet(receiver as object, fieldName);
      if (f.found) {
        if (typeof f.value === 'function') return (f.value as (...a: unknown[]) => unknown).call(receiver);
        if (hasArgs) errorf(`${fieldName} has arguments but cannot be invoked as function`);
        const v = fieldValue(fieldName, f.value);
        noteField(fieldName, v);
        return v;
      }
      errorf(`can't evaluate field ${fieldName} in type ${structName(receiver as object)}`);
    }
    if (k === 'map') {
      if (hasArgs) errorf(`${fieldName} is not a method but has arguments`);
      const v = mapGet(receiver, fieldName);
      noteField(fieldName, v);
      return v;
    }
    return errorf(`can't evaluate field ${fieldName} in type ${typeName(receiver)}`);
  }

  function evalFunction(dot: unknown, name: string, cmd: Cmd, final: unknown, vars: Var[]): unknown {
    const fn = FUNCS.get(name)!;
    const args = cmd.args.slice(1);
    const numIn = args.length + (final !== MISSING ? 1 : 0);
    const fixed = fn.params.length;
    setAt(cmd.args[0]!.pos, name);
    if (fn.variadic) {
      if (numIn < fixed) errorf(`wrong number of args for ${name}: want at least ${fixed} got ${numIn}`);
    } else if (numIn !== fixed) errorf(`wrong number of args for ${name}: want ${fixed} got ${numIn}`);
    const typeAt = (i: number): ParamType => fn.params[i] ?? fn.variadic!;
    if (name === 'and' || name === 'or') {
      let v: unknown;
      for (const a of args) {
        v = evalArg(dot, 'value', a, vars);
        if (isTrue(v) === (name === 'or')) return v;
      }
      return final !== MISSING ? final : v;
    }
    const argv = args.map((a, i) => evalArg(dot, typeAt(i), a, vars));
    if (final !== MISSING) {
      setAt(cmd.pos, cmdString(cmd));
      argv.push(validateType(final, typeAt(argv.length)));
    }
    try {
      return fn.call(argv);
    } catch (e) {
      if (!(e instanceof FuncError)) throw e;
      setAt(cmd.pos, cmdString(cmd));
      return errorf(`error calling ${name}: ${e.message}`);
    }
  }

  function validateType(v: unknown, t: ParamType): unknown {
    if (v === undefined) {
      if (t === 'value') return undefined;
      if (t === 'any' || t === 'strings') return null;
      errorf(`invalid value; expected ${t === 'int' ? 'int' : 'string'}`);
    }
    const k = kindOf(v);
    const want = t === 'string' ? 'string' : t === 'int' ? 'int' : t === 'strings' ? '[]string' : '';
    const ok =
      t === 'value' ||
      t === 'any' ||
      (t === 'string' && k === 'string') ||
      (t === 'int' && k === 'int') ||
      (t === 'strings' && (k === 'nil' || (k === 'slice' && (v as unknown[]).every((x) => typeof x === 'string'))));
    if (!ok) errorf(`wrong type for value; expected ${want}; got ${typeName(v)}`);
    return t === 'strings' && k === 'nil' ? [] : v;
  }

  function evalArg(dot: unknown, t: ParamType, n: Arg, vars: Var[]): unknown {
    setAt(n.pos, argString(n));
    switch (n.type) {
      case 'dot':
        return validateType(dot, t);
      case 'nil':
        if (t === 'value') return undefined; // Go's zero reflect.Value
        if (t === 'any' || t === 'strings') return null;
        return errorf(`cannot assign nil to ${t === 'int' ? 'int' : 'string'}`);
      case 'field':
        return validateType(evalFieldChain(dot, n, n.ident, [n], MISSING), t);
      case 'variable': {
        const v = varValue(vars, n.ident[0]!);
        return validateType(n.ident.length === 1 ? v : evalFieldChain(v, n, n.ident.slice(1), [n], MISSING), t);
      }
      case 'pipe':
        return validateType(evalPipeline(dot, n.pipe, vars), t);
      case 'identifier':
        return validateType(evalFunction(dot, n.name, { pos: n.pos, args: [n] }, MISSING, vars), t);
      case 'chain': {
        const recv = evalArg(dot, 'value', n.node, vars);
        return validateType(evalFieldChain(recv, n, n.field, [n], MISSING), t);
      }
    }
    // literals
    if (t === 'string') {
      if (n.type === 'string') return n.val;
      return errorf(`expected string; found ${argString(n)}`);
    }
    if (t === 'int') {
      if (n.type === 'number' && n.isInt) return num(n.val);
      return errorf(`expected integer; found ${argString(n)}`);
    }
    if (t === 'strings') return errorf(`can't handle ${argString(n)} for arg of type []string`);
    return n.type === 'number' ? n.val : n.val;
  }

  function pipePrint(p: Pipe): string {
    const decl = p.decl.length ? `${p.decl.join(', ')} ${p.isAssign ? '=' : ':='} ` : '';
    return decl + p.cmds.map(cmdString).join(' | ');
  }

  try {
    walk(data, parsed.main, [{ name: '$', value: data }]);
  } catch (e) {
    if (e instanceof Break || e instanceof Continue) return out.join('');
    // a template that calls itself without end: Go stops at its depth limit, JavaScript's stack ends sooner
    if (e instanceof RangeError && /call stack/i.test(e.message)) errorf(`exceeded maximum template depth (${MAX_DEPTH})`);
    throw e;
  }
  return out.join('');
}
