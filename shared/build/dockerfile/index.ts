/**
 * The Dockerfile front end of build-tool: parse → plan → resolve step by step. No I/O except ignore-file reading.
 *
 * Call order for the executor:
 *   1. `const df = parseDockerfile(text, { filename })` — syntax only; errors name `file:line:col`. `df.notices` lists
 *      ignored directives (`syntax`, `check`) and empty continuation lines: print them as warnings.
 *   2. `const plan = planBuild(df, { target, buildArgs, platform })` — expands global ARGs and FROM lines, resolves
 *      stage references (`FROM <stage>`, `COPY --from`, `RUN --mount from=`), refuses forward references and
 *      unknown targets, and keeps only the stages the target needs. `plan.stages` is a valid build order;
 *      `plan.levels[n]` are stage indexes that may run in parallel once levels < n are done. Each PlannedStage has
 *      `base` (scratch | stage index | image ref to pull), `platform`, `deps`, `imageDeps`.
 *   3. For each stage, once its base image config is known (pulled image, previous stage's result, or an empty
 *      config for scratch): `const scope = plan.beginStage(index, baseConfig)`. The base's ONBUILD triggers are
 *      taken off the config (they never reach grandchildren) and prepended to `scope.instructions`.
 *   4. For each `ins` of `scope.instructions`: `const step = scope.step(ins)` — expands with BuildKit's rules
 *      against the ARGs in scope and the Env so far (ENV wins over ARG), applies metadata edits to `scope.config`,
 *      and returns what to execute: `step.run` (argv or a shebang script, env with build args, validated mounts —
 *      call `checkEntitlements(step.run.options, allowed)` before running: BU-11), or `step.copy` (sources, dest,
 *      parsed --chown/--chmod/--exclude/--from/…, heredoc files). `step.buildArgs` (proxy args excluded) goes into
 *      the cache key and `step.createdBy` into history (COPY/ADD: use `copyCreatedBy(kind, summary, dest)`).
 *      `step.emptyLayer` says whether a layer is produced. Metadata steps need no execution at all.
 *   5. `scope.config` is the stage's final config (Env never holds ARG values). After all stages,
 *      `plan.finish()` returns warnings, including buildah's "build args were not consumed" list.
 * Ignore files: `loadIgnoreFile(context, { dockerfile, ignorefile })` then `new IgnoreMatcher(patterns)`;
 * `isExcluded(rel, isDir)` and `mayIncludeUnder(dir)` (walk pruning).
 */
export { parseDockerfile, dockerfileError, findStage, splitWords, parseJsonArray } from './parse.ts';
export type { Dockerfile, Stage, Instruction, InstructionKind, InstructionOf, Heredoc, Flag, CommandForm, SourceLocation } from './parse.ts';
export { expand, expandWord, expandWords, envFromList, shellPatternToRegExp, EXPANDING_INSTRUCTIONS } from './expand.ts';
export type { ExpandEnv, ExpandResult } from './expand.ts';
export { parsePlatform, formatPlatform, hostPlatform } from '../../image/platform.ts';
export { PROXY_ARGS, PLATFORM_ARGS, platformArgs, parseBuildArgFile, parseBuildArgs, unusedBuildArgsWarning } from './args.ts';
export { planBuild, StageScope } from './plan.ts';
export type { BuildPlan, PlannedStage, PlanOptions, ResolvedStep, StageBase } from './plan.ts';
export * from './config-edits.ts';
export * from './copy-flags.ts';
export * from './run-flags.ts';
export * from './created-by.ts';
export { IgnoreMatcher, readIgnorePatterns, loadIgnoreFile } from './ignore.ts';
export type { IgnoreFile } from './ignore.ts';
