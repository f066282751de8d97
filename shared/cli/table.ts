/**
 * Aligns rows in columns like Go's tabwriter as podman configures it (minimum cell width 12, padding 2,
 * spaces): each column is as wide as its widest cell plus 2, at least 12; the last column is not padded.
 */
export function formatTable(rows: readonly (readonly string[])[], o: { minWidth?: number; padding?: number } = {}): string {
  const minWidth = o.minWidth ?? 12;
  const padding = o.padding ?? 2;
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(Math.max(minWidth, (widths[i] ?? 0) + padding)))).join(''))
    .map((l) => `${l}\n`)
    .join('');
}
