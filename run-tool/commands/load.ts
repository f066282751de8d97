import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { SkiffError } from '../../shared/errors.ts';
import { addRootOption, storeRootOf } from '../../shared/cli/program.ts';
import { interruptSignal } from '../../shared/cli/interrupt.ts';
import { loadImages } from '../ops/load-images.ts';

/** Adds podman's `load [-i FILE] [-q]`: reads FILE or standard input; prints `Loaded image: NAME` per name. */
export function addLoadCommand(program: Command): void {
  const cmd = program
    .command('load')
    .description('load images from an archive or directory')
    .option('-i, --input <file>', 'read from FILE (default: standard input)')
    .option('-q, --quiet', 'suppress progress output');
  addRootOption(cmd).action(async (a: { input?: string; quiet?: boolean }) => {
    const root = storeRootOf(cmd);
    const { signal, dispose } = interruptSignal();
    let tmp: string | undefined;
    try {
      let input = a.input;
      if (input === undefined || input === '-') {
        if (process.stdin.isTTY) throw new SkiffError('EINVALID', 'cannot read from terminal, use command-line redirection or the --input flag');
        tmp = await mkdtemp(join(process.env.TMPDIR || tmpdir(), 'skiff-load-'));
        input = join(tmp, 'input.tar');
        await pipeline(process.stdin, createWriteStream(input, { mode: 0o600 }), { signal });
      }
      const names = await loadImages(root, input, { signal });
      for (const n of names) process.stdout.write(`Loaded image: ${n}\n`);
    } finally {
      if (tmp) await rm(tmp, { recursive: true, force: true });
      dispose();
    }
  });
}
