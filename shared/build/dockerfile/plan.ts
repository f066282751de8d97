/**
 * Build planning: the stage graph (what `--target` needs, dependencies through `FROM <stage>`, `COPY --from`,
 * `RUN --mount=from=`, a topological order and parallel levels) and the per-stage StageScope that expands and
 * resolves each instruction lazily, when the executor reaches it (ENV from the base image is known only then).
 * Pure: no I/O.
 */
import { isSkiffError, SkiffError } from '../../errors.ts';
import type { ImageConfig, Platform } from '../../oci/types.ts';
import { hostPlatform, parsePlatform } from '../../image/platform.ts';
import { platformArgs, PROXY_ARGS, unusedBuildArgsWarning } from './args.ts';
import { envFromList, expand, expandWord, expandWords } from './expand.ts';
import {
  applyConfigEdit, commandValue, entrypointEdit, envEdit, exposeEdit, healthcheckConfig, labelEdit, onbuildEdit, resolveWorkdir,
  takeOnbuildTriggers, validateStopSignal, volumeEdit, type ConfigEdit,
} from './config-edits.ts';
import { copyDestination, parseCopyOptions, type CopyOptions } from './copy-flags.ts';
import { nopCreatedBy, runCreatedBy } from './created-by.ts';
import { parseRunOptions, type RunOptions } from './run-flags.ts';
import { dockerfileError, findStage, parseDockerfile } from './parse.ts';
import type { Dockerfile, Flag, Instruction, Stage } from './parse.ts';

/** Options of planBuild. */
export interface PlanOptions {
  target?: string;
  buildArgs?: Record<string, string>;
  /** Target platform (default: the host's). */
  platform?: Platform;
  /** Build platform (default: the host's). */
  buildPlatform?: Platform;
  /** `--build-context` names (lower case): they override a stage or image of that name in FROM and --from. */
  namedContexts?: ReadonlySet<string>;
}

/** What a stage starts from. */
export type StageBase = { kind: 'scratch' } | { kind: 'stage'; index: number } | { kind: 'image'; ref: string } | { kind: 'context'; name: string };

/** One stage to build. `deps` are indexes of stages that must be built first. */
export interface PlannedStage {
  index: number;
  name?: string;
  stage: Stage;
  base: StageBase;
  platform: Platform;
  deps: number[];
  /** Images (not stages) named by COPY --from / RUN --mount from=. */
  imageDeps: string[];
  level: number;
}

/** A build plan: needed stages in a valid build order, and which can run together. */
export interface BuildPlan {
  dockerfile: Dockerfile;
  stages: PlannedStage[];
  /** Stage indexes grouped by level: all stages of a level can be built in parallel once earlier levels are done. */
  levels: number[][];
  target: number;
  /** Global ARG values (declared before the first FROM). */
  globalArgs: Map<string, string | undefined>;
  buildArgs: Record<string, string>;
  targetPlatform: Platform;
  buildPlatform: Platform;
  warnings: string[];
}

/** A resolved step: expanded values ready to execute. Config edits are already applied to the scope's config. */
export interface ResolvedStep {
  instruction: Instruction;
  /** Config edit (applied to StageScope.config already). */
  edit?: ConfigEdit;
  /** History `created_by` (for COPY/ADD use copyCreatedBy with the content summary instead). */
  createdBy: string;
  /** True when the step adds no layer (metadata only). */
  emptyLayer: boolean;
  /** Build args in scope, in declaration order, with values (proxy args excluded): for the cache key and history. */
  buildArgs: [string, string][];
  run?: {
    /** argv for the container, or a script (a heredoc with a shebang) to write to a file and execute. */
    argv: string[];
    script?: string;
    env: string[];
    options: RunOptions;
  };
  copy?: {
    from?: string;
    sources: string[];
    dest: { path: string; isDir: boolean };
    options: CopyOptions;
    /** Heredoc sources (bodies expanded unless the delimiter was quoted): file name → content. */
    inline: { name: string; body: string }[];
  };
}

function atLoc<T>(ins: Instruction, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (isSkiffError(e) && !/^\S+:\d+:\d+: /u.test(e.message)) {
      const err = dockerfileError(ins.loc, e.message, e.hint);
      throw new SkiffError(e.code, err.message, { ...(e.hint === undefined ? {} : { hint: e.hint }), cause: e, details: { line: ins.loc.line, column: ins.loc.column } });
    }
    throw e;
  }
}

/**
 * Expands and resolves the instructions of one stage, in order. Create it with BuildPlan's `beginStage` once the base
 * image config is known; call `step()` for each instruction of `instructions` (ONBUILD triggers of the base come
 * first). Not reusable: each step changes the scope (ENV, ARG, WORKDIR…). `config` is the stage's image config so far.
 */
export class StageScope {
  config: ImageConfig;
  readonly args = new Map<string, string | undefined>();
  /** Instructions to execute: the base image's ONBUILD triggers, then the stage's own. */
  readonly instructions: Instruction[];
  private cmdSet = false;
  private readonly consumed: Set<string>;

  constructor(
    private readonly plan: BuildPlan,
    readonly planned: PlannedStage,
    baseConfig: ImageConfig,
    consumed = new Set<string>(),
  ) {
    const { triggers, config } = takeOnbuildTriggers(baseConfig);
    this.config = config;
    this.consumed = consumed;
    const trig = triggers.map((t) => {
      const d = parseDockerfile(`FROM scratch\n${t}\n`, { filename: `ONBUILD trigger of stage ${planned.index}` });
      return d.stages[0]!.instructions[0]!;
    });
    this.instructions = [...trig, ...planned.stage.instructions];
  }

  /** Variables visible to expansion: declared ARGs with values, overridden by the config's Env. */
  expandEnv(): Map<string, string> {
    const m = new Map<string, string>();
    for (const [k, v] of this.args) if (v !== undefined) m.set(k, v);
    for (const [k, v] of envFromList(this.config.config?.Env)) m.set(k, v);
    return m;
  }

  /** Build args in scope with values, in declaration order, without proxy args. */
  buildArgsInScope(): [string, string][] {
    return [...this.args].filter((e): e is [string, string] => e[1] !== undefined && !PROXY_ARGS.has(e[0]));
  }

  private expandFlags(flags: Flag[], env: Map<string, string>): Flag[] {
    const esc = this.plan.dockerfile.escape;
    return flags.map((f) => (f.value === undefined ? f : { name: f.name, value: expandWord(f.value, env, { escape: esc }) }));
  }

  /** Expands and resolves one instruction, applying its config edit to `config`. Errors name the line and column. */
  step(ins: Instruction): ResolvedStep {
    return atLoc(ins, () => this.resolve(ins));
  }

  private edit(ins: Instruction, edit: ConfigEdit, text?: string): ResolvedStep {
    this.config = applyConfigEdit(this.config, edit);
    return { instruction: ins, edit, createdBy: nopCreatedBy(ins.kind, text ?? ins.text), emptyLayer: true, buildArgs: this.buildArgsInScope() };
  }

  private resolve(ins: Instruction): ResolvedStep {
    const env = this.expandEnv();
    const esc = this.plan.dockerfile.escape;
    const w = (s: string): string => expandWord(s, env, { escape: esc });
    const cfg = this.config.config ?? {};
    switch (ins.kind) {
      case 'FROM':
        throw new SkiffError('EINVALID', 'FROM inside a stage');
      case 'ARG': {
        for (const a of ins.args) {
          const name = w(a.name);
          this.consumed.add(name);
          const given = this.plan.buildArgs[name];
          let value: string | undefined;
          if (given !== undefined) value = given;
          else if (a.value !== undefined) value = w(a.value);
          else if (this.plan.globalArgs.get(name) !== undefined) value = this.plan.globalArgs.get(name);
          else value = platformArgs(this.plan.targetPlatform, this.plan.buildPlatform).get(name);
          this.args.delete(name);
          this.args.set(name, value);
        }
        return { instruction: ins, createdBy: nopCreatedBy('ARG', ins.text), emptyLayer: true, buildArgs: this.buildArgsInScope() };
      }
      case 'ENV':
        return this.edit(ins, envEdit(cfg, ins.pairs.map((p) => ({ key: w(p.key), value: w(p.value) }))));
      case 'LABEL':
        return this.edit(ins, labelEdit(cfg, ins.pairs.map((p) => ({ key: w(p.key), value: w(p.value) }))));
      case 'EXPOSE':
        return this.edit(ins, exposeEdit(cfg, ins.ports.flatMap((p) => expandWords(p, env, { escape: esc }))));
      case 'VOLUME':
        return this.edit(ins, volumeEdit(cfg, ins.paths.map(w)));
      case 'USER': {
        const user = w(ins.user);
        if (user === '') throw new SkiffError('EINVALID', 'USER requires a non-empty user');
        return this.edit(ins, { config: { User: user } });
      }
      case 'WORKDIR':
        return this.edit(ins, { config: { WorkingDir: resolveWorkdir(cfg.WorkingDir, w(ins.path)) } });
      case 'STOPSIGNAL':
        return this.edit(ins, { config: { StopSignal: validateStopSignal(w(ins.signal)) } });
      case 'MAINTAINER':
        return this.edit(ins, { author: ins.name });
      case 'SHELL':
        return this.edit(ins, { config: { Shell: [...ins.args] } });
      case 'CMD':
        this.cmdSet = true;
        return this.edit(ins, { config: { Cmd: commandValue(ins.cmd, cfg.Shell) } });
      case 'ENTRYPOINT':
        return this.edit(ins, entrypointEdit(commandValue(ins.cmd, cfg.Shell), this.cmdSet));
      case 'HEALTHCHECK': {
        const flags = Object.fromEntries(ins.flags.map((f) => [f.name, f.value]));
        const hc = healthcheckConfig(ins.none ? { none: true, flags } : { none: false, test: ins.cmd!, flags });
        const h = hc;
        return this.edit(ins, { config: { Healthcheck: h } });
      }
      case 'ONBUILD':
        return this.edit(ins, onbuildEdit(cfg, ins.trigger));
      case 'RUN': {
        const options = parseRunOptions(this.expandFlags(ins.flags, env));
        const shell = cfg.Shell?.length ? cfg.Shell : ['/bin/sh', '-c'];
        let argv: string[];
        let script: string | undefined;
        const only = ins.heredocs.length === 1 && /^\d*<<-?["']?[^\s"']+["']?$/u.test(ins.cmd.form === 'shell' ? ins.cmd.command.trim() : '');
        if (ins.cmd.form === 'exec') argv = [...ins.cmd.args];
        else if (only) {
          const body = ins.heredocs[0]!.body;
          if (body.startsWith('#!')) {
            script = body;
            argv = [];
          } else argv = [...shell, body];
        } else if (ins.heredocs.length) {
          argv = [...shell, [ins.cmd.command, ...ins.heredocs.map((h) => h.body + h.name)].join('\n')];
        } else argv = [...shell, ins.cmd.command];
        const runEnv = new Map<string, string>();
        for (const [k, v] of this.args) if (v !== undefined) runEnv.set(k, v);
        for (const p of PROXY_ARGS) {
          const v = this.plan.buildArgs[p];
          if (v !== undefined) {
            runEnv.set(p, v);
            this.consumed.add(p);
          }
        }
        for (const [k, v] of envFromList(cfg.Env)) runEnv.set(k, v);
        const args = this.buildArgsInScope();
        const text = ins.heredocs.length ? [ins.text, ...ins.heredocs.map((h) => h.body + h.name)].join('\n') : ins.text;
        const run: NonNullable<ResolvedStep['run']> = { argv, env: [...runEnv].map(([k, v]) => `${k}=${v}`), options };
        if (script !== undefined) run.script = script;
        return { instruction: ins, createdBy: runCreatedBy(text, args), emptyLayer: false, buildArgs: args, run };
      }
      case 'COPY':
      case 'ADD': {
        const options = parseCopyOptions(ins.kind, this.expandFlags(ins.flags, env));
        const inline = ins.heredocs.map((h) => ({ name: h.name, body: h.expand ? expand(h.body, env, { escape: esc }).value : h.body }));
        const realSources = ins.sources.filter((s) => !/^\d*<</u.test(s)).map(w);
        const destText = w(ins.dest);
        const dest = copyDestination([...realSources, ...inline.map((i) => i.name)], destText, cfg.WorkingDir);
        const copy: NonNullable<ResolvedStep['copy']> = { sources: realSources, dest, options, inline };
        if (options.from !== undefined) copy.from = options.from;
        return { instruction: ins, createdBy: nopCreatedBy(ins.kind, ins.text), emptyLayer: false, buildArgs: this.buildArgsInScope(), copy };
      }
    }
  }
}

function stageRef(df: Dockerfile, ref: string, current: number, ins: Instruction, what: string, named?: ReadonlySet<string>): number | undefined {
  if (named?.has(ref.toLowerCase())) return undefined;
  const s = findStage(df.stages, ref);
  if (s === undefined) {
    if (/^\d+$/u.test(ref)) throw dockerfileError(ins.loc, `${what} refers to stage index ${ref}, but there are only ${df.stages.length} stages`, 'use the index or name of an earlier stage');
    return undefined;
  }
  if (s.index === current) throw dockerfileError(ins.loc, `circular dependency: stage ${ref} refers to itself in ${what}`, 'refer to an earlier stage');
  if (s.index > current) throw dockerfileError(ins.loc, `forward reference: ${what} names stage "${ref}" which is defined later`, 'move the stage above this one');
  return s.index;
}

/**
 * Plans a build: expands global ARGs and FROM lines, resolves stage references, and keeps only the stages the
 * target needs. Throws EINVALID (with line and column) for unknown targets, forward references, cycles, bad
 * platforms and bad stage indexes. The returned plan's `beginStage` creates the StageScope for each stage.
 */
export function planBuild(df: Dockerfile, o: PlanOptions = {}): BuildPlan & { beginStage(index: number, base: ImageConfig): StageScope; finish(): string[] } {
  const buildArgs = { ...(o.buildArgs ?? {}) };
  const targetPlatform = o.platform ?? hostPlatform();
  const buildPlatform = o.buildPlatform ?? hostPlatform();
  const consumed = new Set<string>();
  const auto = platformArgs(targetPlatform, buildPlatform);
  const globalArgs = new Map<string, string | undefined>();
  const globalEnv = (): Map<string, string> => {
    const m = new Map(auto);
    for (const [k, v] of globalArgs) if (v !== undefined) m.set(k, v);
    return m;
  };
  for (const ins of df.globalArgs) {
    atLoc(ins, () => {
      for (const a of ins.args) {
        consumed.add(a.name);
        const v = buildArgs[a.name] ?? (a.value === undefined ? undefined : expandWord(a.value, globalEnv(), { escape: df.escape }));
        globalArgs.set(a.name, v);
      }
    });
  }
  const planned: PlannedStage[] = df.stages.map((stage) =>
    atLoc(stage.from, () => {
      const env = globalEnv();
      const image = expandWord(stage.from.image, env, { escape: df.escape });
      if (image === '') throw new SkiffError('EINVALID', `base name (${stage.from.image}) should not be blank`, { hint: 'give the ARG used in FROM a default or pass --build-arg' });
      const pf = stage.from.flags.find((f) => f.name === 'platform')?.value;
      const platform = pf === undefined ? targetPlatform : parsePlatform(expandWord(pf, env, { escape: df.escape }));
      let base: StageBase;
      const prev = df.stages.slice(0, stage.index).find((s) => s.name === image.toLowerCase());
      if (o.namedContexts?.has(image.toLowerCase())) base = { kind: 'context', name: image.toLowerCase() };
      else if (prev) base = { kind: 'stage', index: prev.index };
      else if (image.toLowerCase() === 'scratch') base = { kind: 'scratch' };
      else base = { kind: 'image', ref: image };
      const p: PlannedStage = { index: stage.index, stage, base, platform, deps: base.kind === 'stage' ? [base.index] : [], imageDeps: [], level: 0 };
      if (stage.name !== undefined) p.name = stage.name;
      return p;
    }),
  );
  const plan: BuildPlan = { dockerfile: df, stages: [], levels: [], target: df.stages.length - 1, globalArgs, buildArgs, targetPlatform, buildPlatform, warnings: [] };

  // dependencies through COPY --from and RUN --mount from=, expanded with a dry scope (no base-image Env)
  for (const p of planned) {
    const dry = new StageScope(plan, p, { architecture: '', os: '', rootfs: { type: 'layers', diff_ids: [] } }, new Set());
    for (const ins of p.stage.instructions) {
      let step: ResolvedStep;
      try {
        step = dry.step(ins);
      } catch {
        continue; // reported when the executor resolves it for real
      }
      const refs: [string, string][] = [];
      if (step.copy?.from !== undefined) refs.push([step.copy.from, `${ins.kind} --from`]);
      for (const m of step.run?.options.mounts ?? []) if ('from' in m && m.from !== undefined) refs.push([m.from, 'RUN --mount from=']);
      for (const [ref, what] of refs) {
        const idx = stageRef(df, ref, p.index, ins, what, o.namedContexts);
        if (idx === undefined) p.imageDeps.push(ref);
        else if (!p.deps.includes(idx)) p.deps.push(idx);
      }
    }
  }

  if (o.target !== undefined) {
    const t = findStage(df.stages, o.target);
    if (t === undefined) throw new SkiffError('EINVALID', `target stage "${o.target}" could not be found`, { hint: `use one of: ${df.stages.map((s) => s.name ?? String(s.index)).join(', ')}` });
    plan.target = t.index;
  }
  const needed = new Set<number>();
  const visit = (i: number): void => {
    if (needed.has(i)) return;
    needed.add(i);
    for (const d of planned[i]!.deps) visit(d);
  };
  visit(plan.target);
  for (const p of planned) {
    if (!needed.has(p.index)) continue;
    p.level = Math.max(0, ...p.deps.map((d) => planned[d]!.level + 1));
    plan.stages.push(p);
    (plan.levels[p.level] ??= []).push(p.index);
  }
  return {
    ...plan,
    beginStage(index: number, base: ImageConfig): StageScope {
      const p = plan.stages.find((s) => s.index === index);
      if (p === undefined) throw new SkiffError('EINVALID', `stage ${index} is not part of this build`);
      return new StageScope(plan, p, base, consumed);
    },
    /** Call after all stages ran: the warnings to print, including buildah's unconsumed build args list. */
    finish(): string[] {
      // as buildah 1.28: an ARG declared in any stage consumes its build arg, also in stages this build skipped
      const declared = new Set(df.stages.flatMap((s) => s.instructions.flatMap((i) => (i.kind === 'ARG' ? i.args.map((a) => a.name) : []))));
      const unused = Object.keys(buildArgs).filter((k) => !consumed.has(k) && !declared.has(k) && !PROXY_ARGS.has(k));
      const w = unusedBuildArgsWarning(unused);
      return w === undefined ? [...plan.warnings] : [...plan.warnings, w];
    },
  };
}
