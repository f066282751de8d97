// Rewriting a recorded command line (a container's or pod's CreateCommand) into the one a `--new` unit runs:
// the flags the unit sets itself are dropped, the rest kept in order, the image and command untouched. Pure.

/** Whether a flag (`--name`, `-e`) takes a value in the next word when not given as `--flag=value`. */
export type TakesValue = (flag: string) => boolean;

/** The parts of a recorded command line: the words after the subcommand split into flags and positionals. */
export interface SplitCommand {
  /** the flags kept, each word as given (a flag and its separate value are two words) */
  flags: string[];
  /** the image and command (everything from the first positional on) */
  positionals: string[];
}

/**
 * Splits `cmd` (`run-tool [global flags] SUBCOMMAND… [flags] [positionals]`, where SUBCOMMAND… are the words
 * `sub` names, e.g. ['run'] or ['pod', 'create']) and drops every flag in `drop` (long or short spelling, with its
 * value; `-d` inside a short group like `-dit` goes alone). Global flags before the subcommand are dropped (the
 * unit names the store itself). `create` counts as `run`. EINVALID-free: an unreadable command yields what it can.
 */
export function splitCreateCommand(cmd: readonly string[], sub: readonly string[], takesValue: TakesValue, drop: ReadonlySet<string>): SplitCommand {
  let i = 1;
  // skip global flags up to the subcommand words
  for (let matched = 0; i < cmd.length && matched < sub.length; i++) {
    const w = cmd[i]!;
    if (w === sub[matched] || (sub[matched] === 'run' && w === 'create')) {
      matched++;
      continue;
    }
    if (matched > 0) break;
    if (w.startsWith('-') && !w.includes('=') && takesValue(w)) i++;
  }
  const flags: string[] = [];
  for (; i < cmd.length; i++) {
    const w = cmd[i]!;
    if (w === '--') {
      i++;
      break;
    }
    if (!w.startsWith('-') || w === '-') break;
    if (w.startsWith('--')) {
      const eq = w.indexOf('=');
      const name = eq < 0 ? w : w.slice(0, eq);
      const hasNext = eq < 0 && takesValue(name);
      if (!drop.has(name)) flags.push(...(hasNext ? [w, cmd[i + 1] ?? ''] : [w]));
      if (hasNext) i++;
      continue;
    }
    // a short group: -dit, -eK=V, -e K=V
    let kept = '';
    let value: string | undefined;
    let consumedNext = false;
    for (let j = 1; j < w.length; j++) {
      const f = `-${w[j]}`;
      if (takesValue(f)) {
        value = j + 1 < w.length ? w.slice(j + 1) : (consumedNext = true, cmd[i + 1] ?? '');
        if (!drop.has(f)) {
          if (kept) flags.push(`-${kept}`);
          kept = '';
          flags.push(f, value);
        }
        break;
      }
      if (!drop.has(f)) kept += w[j];
    }
    if (kept) flags.push(`-${kept}`);
    if (consumedNext) i++;
  }
  return { flags, positionals: cmd.slice(i) };
}
