/**
 * A warning line as podman's logger (logrus) prints it: `WARN[0003] MESSAGE` on a terminal (seconds since the tool
 * started), else `time="2026-01-02T03:04:05Z" level=warning msg="MESSAGE"` — so scripts that grep podman's
 * stderr find the same text. One line, without the newline. Pure.
 */
export function warningLine(message: string, o: { tty: boolean; now?: Date; uptimeSeconds?: number }): string {
  const text = message.replace(/[\r\n]+/g, ' ');
  if (o.tty) return `WARN[${String(Math.floor(o.uptimeSeconds ?? 0)).padStart(4, '0')}] ${text}`;
  const time = (o.now ?? new Date()).toISOString().replace(/\.\d+Z$/, 'Z');
  return `time="${time}" level=warning msg=${JSON.stringify(text)}`;
}

/** Writes warningLine for this process's stderr. */
export function printWarningLine(message: string): void {
  process.stderr.write(`${warningLine(message, { tty: process.stderr.isTTY === true, uptimeSeconds: process.uptime() })}\n`);
}
