// The controlling terminal on this process's stdin in raw mode and back, as `attach` to a TTY container needs it.
import { spawnSync } from 'node:child_process';
import type { ReadStream } from 'node:tty';
import { locateProgram } from './system-programs.ts';

/**
 * Puts the terminal `stdin` reads in raw mode — Node's raw mode, and no output processing (`stty -opost`, so the
 * \r\n a container's terminal sends is not made \r\r\n) — and returns the function that restores it to the settings
 * it had (`stty -g`, or Node's cooked mode without stty). The restore is synchronous (it may run in an `exit`
 * handler) and idempotent.
 */
export function rawTerminal(stdin: ReadStream): () => void {
  const stty = locateProgram('stty');
  const tty = { stdio: ['inherit', 'pipe', 'ignore'] as ['inherit', 'pipe', 'ignore'], encoding: 'utf8' as const };
  let saved = stty ? spawnSync(stty, ['-g'], tty).stdout?.trim() || undefined : undefined;
  stdin.setRawMode(true);
  if (saved) spawnSync(stty!, ['-opost'], tty);
  let done = false;
  return () => {
    if (done) return;
    done = true;
    if (stdin.isRaw) stdin.setRawMode(false);
    if (saved) spawnSync(stty!, [saved], tty);
    saved = undefined;
  };
}
