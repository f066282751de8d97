import type { CommandEntry } from './command-table.ts';

/** Escapes text for a groff line: backslashes, a leading control character, and hyphens in option names. Pure. */
function roff(s: string): string {
  const t = s.replace(/\\/g, '\\e');
  return /^[.']/.test(t) ? `\\&${t}` : t;
}
const dash = (s: string) => roff(s).replace(/-/g, '\\-');

/** The man page file name of a command: `run-tool-pod-create.1`; the program's own page is `run-tool.1`. Pure. */
export function manPageName(tool: string, path: readonly string[]): string {
  return `${[tool, ...path].join('-')}.1`;
}

/**
 * One man(7) page (section 1) per command of `table`: NAME, SYNOPSIS, DESCRIPTION, OPTIONS (the command's own
 * flags), COMMANDS (its subcommands, each pointing at its own page) and SEE ALSO. Keys are file names. Pure.
 */
export function manPages(tool: string, version: string, table: readonly CommandEntry[]): Map<string, string> {
  const pages = new Map<string, string>();
  const byPath = new Map(table.map((e) => [e.path.join(' '), e]));
  for (const e of table) {
    const name = [tool, ...e.path].join('-');
    const words = [tool, ...e.path].join(' ');
    const l: string[] = [
      `.TH "${name.toUpperCase()}" "1" "" "skiff ${version}" "User Commands"`,
      '.SH NAME',
      `${dash(name)} \\- ${roff(e.description || words)}`,
      '.SH SYNOPSIS',
      `.B ${dash(words)}`,
      roff(e.usage),
      '.SH DESCRIPTION',
      roff(e.description || words),
    ];
    if (e.options.length > 0) {
      l.push('.SH OPTIONS');
      for (const o of e.options) l.push('.TP', `.B ${dash(o.flags)}`, roff(o.description));
    }
    if (e.subcommands.length > 0) {
      l.push('.SH COMMANDS');
      for (const s of e.subcommands) {
        const sub = byPath.get([...e.path, s].join(' '));
        if (!sub) continue;
        l.push('.TP', `.B ${dash(s)}`, `${roff(sub.description)} See \\fB${dash(manPageName(tool, sub.path).slice(0, -2))}\\fR(1).`);
      }
    }
    l.push('.SH SEE ALSO', e.path.length === 0 ? `\\fBpodman\\fR(1), \\fBbuildah\\fR(1), \\fBskopeo\\fR(1)` : `\\fB${dash(tool)}\\fR(1)`);
    pages.set(manPageName(tool, e.path), `${l.join('\n')}\n`);
  }
  return pages;
}
