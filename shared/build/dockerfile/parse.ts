/**
 * Dockerfile → skiff's instruction model. dockerfile-ast finds the directives, the escape character and each
 * instruction's extent (heredoc bodies included); skiff then rebuilds the logical line itself (continuations,
 * comment and blank lines inside them), splits flags, detects JSON vs shell form (invalid JSON falls back to shell
 * form, as Docker) and reads heredocs (`<<EOF`, `<<-EOF`, quoted delimiters, several per line). Nothing is expanded
 * here: values are kept raw, expansion happens per step (see expand.ts, plan.ts). Pure: no I/O.
 */
import { DockerfileParser } from 'dockerfile-ast';
import { SkiffError } from '../../errors.ts';

/** Where an instruction is: 1-based line and column of its keyword, and its last line. */
export interface SourceLocation {
  file: string;
  line: number;
  column: number;
  endLine: number;
}

/** A `--name[=value]` flag as written (value unexpanded; undefined for a bare `--name`). */
export interface Flag {
  name: string;
  value: string | undefined;
}

/** One heredoc: `<<[-]NAME` with its body (ends with a newline). `expand` is false for a quoted delimiter. */
export interface Heredoc {
  name: string;
  body: string;
  expand: boolean;
  /** `<<-`: leading tabs were stripped from body lines. */
  chomp: boolean;
  /** A file descriptor prefix (`3<<EOF`), when given. */
  fd?: number;
}

/** Exec form (JSON array) or shell form (the text as written after continuations are joined). */
export type CommandForm = { form: 'exec'; args: string[] } | { form: 'shell'; command: string };

/** A `key=value` pair as written (quotes kept; expansion removes them). */
export interface KeyValue {
  key: string;
  value: string;
}

interface Base {
  loc: SourceLocation;
  /** The keyword as written. */
  keyword: string;
  /** The logical text after the keyword (continuations joined, heredoc bodies excluded). */
  text: string;
  flags: Flag[];
}

/** The instruction union: one member per Dockerfile instruction. */
export type Instruction =
  | (Base & { kind: 'FROM'; image: string; stageName?: string })
  | (Base & { kind: 'RUN'; cmd: CommandForm; heredocs: Heredoc[] })
  | (Base & { kind: 'CMD' | 'ENTRYPOINT'; cmd: CommandForm })
  | (Base & { kind: 'SHELL'; args: string[] })
  | (Base & { kind: 'ENV' | 'LABEL'; pairs: KeyValue[] })
  | (Base & { kind: 'ARG'; args: { name: string; value?: string }[] })
  | (Base & { kind: 'EXPOSE'; ports: string[] })
  | (Base & { kind: 'VOLUME'; paths: string[]; json: boolean })
  | (Base & { kind: 'USER'; user: string })
  | (Base & { kind: 'WORKDIR'; path: string })
  | (Base & { kind: 'COPY' | 'ADD'; sources: string[]; dest: string; heredocs: Heredoc[]; json: boolean })
  | (Base & { kind: 'STOPSIGNAL'; signal: string })
  | (Base & { kind: 'HEALTHCHECK'; none: boolean; cmd?: CommandForm })
  | (Base & { kind: 'ONBUILD'; trigger: string; inner: Instruction })
  | (Base & { kind: 'MAINTAINER'; name: string });

/** The instruction kinds. */
export type InstructionKind = Instruction['kind'];
/** The instruction with a given kind. */
export type InstructionOf<K extends InstructionKind> = Instruction extends infer I ? (I extends { kind: infer KK } ? (K extends KK ? I : never) : never) : never;

/** One build stage: its FROM and the instructions after it. `name` is lower-cased (names are case-insensitive). */
export interface Stage {
  index: number;
  name?: string;
  from: InstructionOf<'FROM'>;
  instructions: Instruction[];
}

/** A parsed Dockerfile. */
export interface Dockerfile {
  filename: string;
  escape: string;
  directives: { name: string; value: string }[];
  /** Human-readable notices (ignored directives, empty continuation lines). */
  notices: string[];
  /** ARGs before the first FROM. */
  globalArgs: InstructionOf<'ARG'>[];
  stages: Stage[];
}

/** Options of parseDockerfile. */
export interface ParseOptions {
  filename?: string;
}

const FLAGS: Record<string, { allowed: string[]; multi?: string[] }> = {
  FROM: { allowed: ['platform'] },
  RUN: { allowed: ['mount', 'network', 'security', 'device'], multi: ['mount', 'device'] },
  COPY: { allowed: ['from', 'chown', 'chmod', 'link', 'parents', 'exclude'], multi: ['exclude'] },
  ADD: {
    allowed: ['from', 'chown', 'chmod', 'link', 'parents', 'exclude', 'checksum', 'keep-git-dir', 'unpack'],
    multi: ['exclude'],
  },
  HEALTHCHECK: { allowed: ['interval', 'timeout', 'start-period', 'start-interval', 'retries'] },
};

const KINDS = new Set<string>([
  'FROM', 'RUN', 'CMD', 'ENTRYPOINT', 'SHELL', 'ENV', 'LABEL', 'ARG', 'EXPOSE', 'VOLUME', 'USER', 'WORKDIR',
  'COPY', 'ADD', 'STOPSIGNAL', 'HEALTHCHECK', 'ONBUILD', 'MAINTAINER',
]);

/** Makes a SkiffError naming the file, line and column: `Dockerfile:3:1: message`. */
export function dockerfileError(loc: Pick<SourceLocation, 'file' | 'line' | 'column'>, message: string, hint?: string): SkiffError {
  return new SkiffError('EINVALID', `${loc.file}:${loc.line}:${loc.column}: ${message}`, {
    ...(hint === undefined ? {} : { hint }),
    details: { line: loc.line, column: loc.column },
  });
}

/**
 * Splits text into words on unquoted whitespace, keeping quotes and escapes in the words (BuildKit's
 * parseWords): used for flags, ENV/LABEL/ARG pairs and heredoc markers.
 */
export function splitWords(text: string, escape = '\\'): string[] {
  const words: string[] = [];
  let w = '';
  let quote = '';
  let inWord = false;
  const cs = Array.from(text);
  for (let i = 0; i < cs.length; i++) {
    const c = cs[i]!;
    if (quote === '' && /\s/u.test(c)) {
      if (inWord) words.push(w);
      w = '';
      inWord = false;
      continue;
    }
    inWord = true;
    if (c === escape && quote !== "'" && i + 1 < cs.length) {
      w += c + cs[++i]!;
      continue;
    }
    if (quote === '' && (c === '"' || c === "'")) quote = c;
    else if (c === quote) quote = '';
    w += c;
  }
  if (inWord) words.push(w);
  return words;
}

/** Parses a JSON array of strings, or undefined when `text` is not one (then the shell form applies). */
export function parseJsonArray(text: string): string[] | undefined {
  const t = text.trim();
  if (!t.startsWith('[')) return undefined;
  try {
    const v: unknown = JSON.parse(t);
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  } catch {
    /* shell form */
  }
  return undefined;
}

const HEREDOC_RE = /^(\d*)<<(-?)(.+)$/su;

function unquoteName(raw: string): { name: string; quoted: boolean } {
  let name = '';
  let quoted = false;
  let q = '';
  for (const c of raw) {
    if (q === '' && (c === '"' || c === "'")) {
      q = c;
      quoted = true;
    } else if (c === q) q = '';
    else name += c;
  }
  return { name, quoted };
}

interface Logical {
  loc: SourceLocation;
  keyword: string;
  rest: string;
  extra: string[];
  /** Physical lines of the logical line, and heredoc body lines consumed after it. */
  used: number;
  extraUsed: number;
}

/**
 * Parses a Dockerfile. Throws EINVALID naming file:line:column for: unknown instruction, unknown or repeated flag,
 * malformed arguments, SHELL not in JSON form, unterminated heredoc, instructions before the first FROM other than
 * ARG, duplicate or invalid stage names, and a file with no FROM.
 */
export function parseDockerfile(text: string, o: ParseOptions = {}): Dockerfile {
  const file = o.filename ?? 'Dockerfile';
  const src = text.replace(/\r\n/gu, '\n');
  const ast = DockerfileParser.parse(src);
  const lines = src.split('\n');
  const notices: string[] = [];
  const directives: { name: string; value: string }[] = [];
  for (const d of ast.getDirectives()) {
    const name = d.getName().toLowerCase();
    const value = d.getValue();
    directives.push({ name, value });
    if (name === 'escape') {
      if (value !== '\\' && value !== '`') {
        throw dockerfileError({ file, line: d.getRange().start.line + 1, column: 1 }, `invalid escape token '${value}' does not match \` or \\`, 'use "# escape=\\" or "# escape=`"');
      }
    } else if (name === 'syntax' || name === 'check') {
      notices.push(`${file}:${d.getRange().start.line + 1}: the "${name}" directive is accepted and ignored by skiff`);
    }
  }
  const escape = directives.find((d) => d.name === 'escape')?.value ?? '\\';

  const df: Dockerfile = { filename: file, escape, directives, notices, globalArgs: [], stages: [] };
  const names = new Set<string>();
  let consumedUntil = 0; // heredoc bodies dockerfile-ast did not recognise must not be read as instructions
  for (const ins of ast.getInstructions()) {
    const r = ins.getRange();
    if (r.start.line < consumedUntil) continue;
    const first = (lines[r.start.line] ?? '').slice(r.start.character);
    const phys = [first, ...lines.slice(r.start.line + 1)];
    const loc: SourceLocation = { file, line: r.start.line + 1, column: r.start.character + 1, endLine: r.end.line + 1 };
    const logical = joinLogical(phys, escape, loc, notices);
    const parsed = parseInstruction(logical, escape);
    consumedUntil = r.start.line + logical.used + logical.extraUsed;
    loc.endLine = consumedUntil;
    if (parsed.kind === 'FROM') {
      const stage: Stage = { index: df.stages.length, from: parsed, instructions: [] };
      if (parsed.stageName !== undefined) {
        const n = parsed.stageName.toLowerCase();
        if (!/^[a-z][a-z0-9_.-]*$/u.test(n)) throw dockerfileError(loc, `invalid name for build stage: "${parsed.stageName}", name can't start with a number or contain symbols`);
        if (names.has(n)) throw dockerfileError(loc, `duplicate stage name "${n}"`, 'give each stage a unique name');
        names.add(n);
        stage.name = n;
      }
      df.stages.push(stage);
    } else if (df.stages.length === 0) {
      if (parsed.kind !== 'ARG') throw dockerfileError(loc, `${parsed.kind} before the first FROM: no build stage in current context`, 'start the Dockerfile with FROM (only ARG may come before it)');
      df.globalArgs.push(parsed);
    } else df.stages[df.stages.length - 1]!.instructions.push(parsed);
  }
  if (df.stages.length === 0) {
    throw new SkiffError('EINVALID', `${file}: the Dockerfile has no FROM instruction`, { hint: 'add a FROM line (FROM scratch for an empty base)' });
  }
  return df;
}

/** A physical line ending in the escape character (then only blanks and tabs): its text before it; else undefined. */
function continued(line: string, escape: string): string | undefined {
  let e = line.length;
  while (e > 0 && (line[e - 1] === ' ' || line[e - 1] === '\t')) e--;
  return e > 0 && line[e - 1] === escape ? line.slice(0, e - 1) : undefined;
}

function joinLogical(phys: string[], escape: string, loc: SourceLocation, notices: string[]): Logical {
  let cur = '';
  let i = 0;
  let empty = false;
  while (i < phys.length) {
    const l = phys[i]!;
    if (i > 0 && (l.trim() === '' || l.trimStart().startsWith('#'))) {
      if (l.trim() === '') empty = true;
      i++;
      continue;
    }
    const c = continued(l, escape);
    i++;
    if (c !== undefined) {
      cur += c;
      if (i >= phys.length) break;
    } else {
      cur += l;
      break;
    }
  }
  if (empty) notices.push(`${loc.file}:${loc.line}: empty continuation line (ignored)`);
  const t = cur.trimStart();
  const m = /^(\S+)\s*([\s\S]*)$/u.exec(t);
  const keyword = m?.[1] ?? '';
  return { loc, keyword, rest: (m?.[2] ?? '').trimEnd(), extra: phys.slice(i), used: i, extraUsed: 0 };
}

function takeFlags(rest: string, kind: string, loc: SourceLocation, escape: string): { flags: Flag[]; rest: string } {
  const flags: Flag[] = [];
  let r = rest;
  for (;;) {
    r = r.trimStart();
    if (!r.startsWith('--')) break;
    const word = splitWords(r, escape)[0] ?? '';
    if (word === '--') break;
    r = r.slice(word.length);
    const eq = word.indexOf('=');
    const name = (eq < 0 ? word.slice(2) : word.slice(2, eq)).toLowerCase();
    const value = eq < 0 ? undefined : word.slice(eq + 1);
    const spec = FLAGS[kind];
    if (spec === undefined || !spec.allowed.includes(name)) {
      throw dockerfileError(loc, `unknown flag: --${name} for ${kind}`, spec === undefined ? `${kind} takes no flags` : `${kind} accepts --${spec.allowed.join(', --')}`);
    }
    if (!spec.multi?.includes(name) && flags.some((f) => f.name === name)) {
      throw dockerfileError(loc, `duplicate flag specified: --${name}`);
    }
    flags.push({ name, value });
  }
  return { flags, rest: r };
}

function commandForm(rest: string): CommandForm {
  const j = parseJsonArray(rest);
  return j === undefined ? { form: 'shell', command: rest } : { form: 'exec', args: j };
}

function readHeredocs(rest: string, l: Logical, loc: SourceLocation, escape: string): Heredoc[] {
  const extra = l.extra;
  const docs: Heredoc[] = [];
  let li = 0;
  for (const word of splitWords(rest, escape)) {
    const m = HEREDOC_RE.exec(word);
    if (m === null) continue;
    const { name, quoted } = unquoteName(m[3]!);
    if (name === '') continue;
    const chomp = m[2] === '-';
    const body: string[] = [];
    let done = false;
    while (li < extra.length) {
      let l = extra[li++]!;
      if (chomp) l = l.replace(/^\t+/u, '');
      if (l === name) {
        done = true;
        break;
      }
      body.push(l);
    }
    if (!done) throw dockerfileError(loc, `unterminated heredoc: no line "${name}" ends the heredoc <<${m[2]}${m[3]}`, `add a line containing only ${name}`);
    const doc: Heredoc = { name, body: body.length ? body.join('\n') + '\n' : '', expand: !quoted, chomp };
    if (m[1] !== '') doc.fd = Number(m[1]);
    docs.push(doc);
  }
  l.extraUsed = li;
  return docs;
}

function parsePairs(kind: 'ENV' | 'LABEL', rest: string, loc: SourceLocation, escape: string): KeyValue[] {
  const words = splitWords(rest, escape);
  if (words.length === 0) throw dockerfileError(loc, `${kind} requires at least one argument`);
  if (!words[0]!.includes('=')) {
    // legacy form: KEY VALUE… (the value is the rest of the line)
    const key = words[0]!;
    const value = rest.trimStart().slice(key.length).trim();
    if (words.length < 2) throw dockerfileError(loc, `${kind} must have two arguments`, `write ${kind} ${key}=VALUE`);
    return [{ key, value }];
  }
  return words.map((w) => {
    const eq = w.indexOf('=');
    if (eq < 0) throw dockerfileError(loc, `syntax error - can't find = in "${w}"; must be of the form: name=value`);
    if (eq === 0) throw dockerfileError(loc, `${kind} names can not be blank`);
    return { key: w.slice(0, eq), value: w.slice(eq + 1) };
  });
}

function parseInstruction(l: Logical, escape: string): Instruction {
  const { loc } = l;
  const kind = l.keyword.toUpperCase();
  if (!KINDS.has(kind)) throw dockerfileError(loc, `unknown instruction: ${l.keyword}`, 'check the spelling; see the Dockerfile reference for the instruction list');
  const { flags, rest } = takeFlags(l.rest, kind, loc, escape);
  const base = { loc, keyword: l.keyword, text: l.rest, flags };
  const words = (): string[] => rest.split(/[ \t\v\f\r\n]+/u).filter((w) => w !== '');
  const need = (ok: boolean, msg: string, hint?: string): void => {
    if (!ok) throw dockerfileError(loc, msg, hint);
  };
  switch (kind) {
    case 'FROM': {
      const w = words();
      need(w.length === 1 || (w.length === 3 && w[1]!.toLowerCase() === 'as'), 'FROM requires either one or three arguments', 'write FROM IMAGE [AS NAME]');
      return w.length === 3 ? { ...base, kind, image: w[0]!, stageName: w[2]! } : { ...base, kind, image: w[0]! };
    }
    case 'RUN': {
      const heredocs = readHeredocs(rest, l, loc, escape);
      need(rest !== '', 'RUN requires at least one argument');
      return { ...base, kind, cmd: heredocs.length ? { form: 'shell', command: rest } : commandForm(rest), heredocs };
    }
    case 'CMD':
    case 'ENTRYPOINT':
      return { ...base, kind, cmd: commandForm(rest) };
    case 'SHELL': {
      const j = parseJsonArray(rest);
      need(j !== undefined && j.length > 0, 'SHELL requires the arguments to be in JSON form', 'write SHELL ["/bin/sh", "-c"]');
      return { ...base, kind, args: j! };
    }
    case 'ENV':
    case 'LABEL':
      return { ...base, kind, pairs: parsePairs(kind, rest, loc, escape) };
    case 'ARG': {
      const w = splitWords(rest, escape);
      need(w.length > 0, 'ARG requires at least one argument', 'write ARG NAME[=DEFAULT]');
      return {
        ...base,
        kind,
        args: w.map((x) => {
          const eq = x.indexOf('=');
          need(eq !== 0, 'ARG names can not be blank');
          return eq < 0 ? { name: x } : { name: x.slice(0, eq), value: x.slice(eq + 1) };
        }),
      };
    }
    case 'EXPOSE': {
      const w = words();
      need(w.length > 0, 'EXPOSE requires at least one argument');
      return { ...base, kind, ports: w };
    }
    case 'VOLUME': {
      const j = parseJsonArray(rest);
      const paths = j ?? words();
      need(paths.length > 0, 'VOLUME requires at least one argument');
      return { ...base, kind, paths, json: j !== undefined };
    }
    case 'USER':
    case 'WORKDIR':
    case 'STOPSIGNAL':
    case 'MAINTAINER': {
      need(rest !== '', `${kind} requires exactly one argument`);
      if (kind === 'USER') return { ...base, kind, user: rest };
      if (kind === 'WORKDIR') return { ...base, kind, path: rest };
      if (kind === 'STOPSIGNAL') return { ...base, kind, signal: rest };
      return { ...base, kind: 'MAINTAINER', name: rest };
    }
    case 'COPY':
    case 'ADD': {
      const heredocs = readHeredocs(rest, l, loc, escape);
      const j = heredocs.length ? undefined : parseJsonArray(rest);
      const w = j ?? words();
      need(w.length >= 2, `${kind} requires at least two arguments, but only one was provided. Destination could not be determined`, `write ${kind} SRC… DEST`);
      return { ...base, kind, sources: w.slice(0, -1), dest: w[w.length - 1]!, heredocs, json: j !== undefined };
    }
    case 'HEALTHCHECK': {
      need(rest !== '', 'HEALTHCHECK requires at least one argument', 'write HEALTHCHECK CMD … or HEALTHCHECK NONE');
      const m = /^(\S+)\s*([\s\S]*)$/u.exec(rest)!;
      const sub = m[1]!.toUpperCase();
      if (sub === 'NONE') {
        need(m[2] === '' && flags.length === 0, 'HEALTHCHECK NONE takes no other arguments');
        return { ...base, kind, none: true };
      }
      need(sub === 'CMD', `unknown type "${m[1]}" in HEALTHCHECK (try CMD)`);
      need(m[2] !== '', 'HEALTHCHECK CMD requires a command');
      return { ...base, kind, none: false, cmd: commandForm(m[2]!) };
    }
    case 'ONBUILD': {
      need(rest !== '', 'ONBUILD requires at least one argument');
      const inner = parseInstruction(joinLogical([rest], escape, loc, []), escape);
      need(inner.kind !== 'ONBUILD', 'chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
      need(inner.kind !== 'FROM' && inner.kind !== 'MAINTAINER', `${inner.kind} isn't allowed as an ONBUILD trigger`);
      return { ...base, kind, trigger: rest, inner };
    }
  }
  throw dockerfileError(loc, `unknown instruction: ${l.keyword}`);
}

/** Finds a stage by name (case-insensitive) or decimal index among `stages`; undefined when none matches. */
export function findStage(stages: readonly Stage[], ref: string): Stage | undefined {
  const n = ref.toLowerCase();
  const byName = stages.find((s) => s.name === n);
  if (byName) return byName;
  if (/^\d+$/u.test(ref)) return stages[Number(ref)];
  return undefined;
}
