/**
 * Go's text/tabwriter as podman configures it for `--format table …` (minimum cell width 12, padding 2, padded
 * with spaces, left-aligned): tab-terminated cells of consecutive lines form column blocks as wide as their
 * widest cell plus the padding; the text after a line's last tab is not a cell and is never padded. Pure.
 */
export function tabwrite(text: string, o: { minWidth?: number; padding?: number } = {}): string {
  const minWidth = o.minWidth ?? 12;
  const padding = o.padding ?? 2;
  const lines = text.split('\n').map((l) => l.split('\t'));
  const width = (s: string): number => [...s].length;
  const widths: number[] = [];
  let out = '';

  const writeLines = (from: number, to: number): void => {
    for (let i = from; i < to; i++) {
      const line = lines[i]!;
      line.forEach((c, j) => {
        out += c;
        if (j < widths.length && j < line.length - 1) out += ' '.repeat(Math.max(0, widths[j]! - width(c)));
      });
      if (i < lines.length - 1) out += '\n';
    }
  };

  const format = (line0: number, line1: number): void => {
    const column = widths.length;
    for (let cur = line0; cur < line1; cur++) {
      if (column >= lines[cur]!.length - 1) continue;
      writeLines(line0, cur);
      line0 = cur;
      let w = minWidth;
      for (; cur < line1; cur++) {
        const line = lines[cur]!;
        if (column >= line.length - 1) break;
        w = Math.max(w, width(line[column]!) + padding);
      }
      widths.push(w);
      format(line0, cur);
      widths.pop();
      line0 = cur;
      cur--;
    }
    writeLines(line0, line1);
  };
  format(0, lines.length);
  return out;
}
