import type { Command } from 'commander';
import { goBool } from '../../shared/cli/flags.ts';
import { addRootOption } from '../../shared/cli/program.ts';
import { SkiffError } from '../../shared/errors.ts';
import { withStore } from './cli-util.ts';
import { copyIntoContainer, copyOutOfContainer } from '../ops/copy-container.ts';
import { interruptSignal } from '../../shared/cli/interrupt.ts';

/** One side of `cp`: a host path, `-` (a tar stream), or CONTAINER:PATH. */
export interface CopyLocation {
  container?: string;
  path: string;
}

const CTR_RE = /^([a-zA-Z0-9][a-zA-Z0-9_.-]*):(.*)$/s;

/** Parses a `cp` argument as podman does: `NAME:PATH` names a container unless the text starts like a path. Pure. */
export function parseCopyLocation(arg: string): CopyLocation {
  if (arg === '-' || arg.startsWith('/') || arg.startsWith('.')) return { path: arg };
  const m = CTR_RE.exec(arg);
  if (!m) return { path: arg };
  return { container: m[1]!, path: m[2] === '' ? '/' : m[2]! };
}

/**
 * `-a`/`--archive[=BOOL]` as podman's pflag takes it: a bare `-a` is true, `=false`/`=true` (or a following
 * true/false word) set it; any other word after `-a` is not its value but the first path (returned as a string
 * for the action to put back among the arguments). Pure.
 */
export function parseArchiveFlag(v: string | undefined): boolean | string {
  if (v === undefined) return true;
  const t = v.startsWith('=') ? v.slice(1) : v;
  const b = goBool(t);
  if (b !== undefined) return b;
  if (v.startsWith('=')) throw new SkiffError('EINVALID', `invalid argument ${JSON.stringify(t)} for "-a, --archive" flag: use true or false`);
  return v;
}

/**
 * Adds `cp [-a[=BOOL]] SRC DST` (podman's): one side is `CONTAINER:PATH`, the other a host path or `-` (a tar
 * stream on stdin/stdout). Works on running containers (frozen with runc pause while the copy runs, RU-08)
 * and on created/stopped ones (their overlay mounted for the copy). As podman: with `--archive` (the default)
 * what is copied in — files or a stdin tar stream — is owned by the container's primary uid/gid;
 * `--archive=false` keeps the source's (the tar's) owners. What is copied out belongs to the caller (a host
 * path) or carries the caller's ids (a tar on stdout), either way.
 */
export function addCpCommand(program: Command): void {
  const cmd = program
    .command('cp')
    .description("copy files/folders between a container and the local filesystem")
    .argument('[src]', '[CONTAINER:]SRC_PATH')
    .argument('[dest]', '[CONTAINER:]DEST_PATH')
    .option('-a, --archive [bool]', 'chown copied files to the primary uid/gid of the destination container (default true)', parseArchiveFlag);
  addRootOption(cmd).action(async (arg1: string | undefined, arg2: string | undefined, f: { archive?: boolean | string }) => {
    const words = [...(typeof f.archive === 'string' ? [f.archive] : []), arg1, arg2].filter((x): x is string => x !== undefined);
    if (words.length !== 2) throw new SkiffError('EINVALID', `accepts 2 arg(s), received ${words.length}`, { hint: 'run-tool cp [options] [CONTAINER:]SRC_PATH [CONTAINER:]DEST_PATH' });
    const [srcArg, dstArg] = words as [string, string];
    const archive = f.archive !== false;
    const src = parseCopyLocation(srcArg);
    const dst = parseCopyLocation(dstArg);
    if (src.container !== undefined && dst.container !== undefined) throw new SkiffError('EINVALID', 'copying from a container to another container is not supported');
    if (src.container === undefined && dst.container === undefined) throw new SkiffError('EINVALID', 'invalid arguments: one of SRC or DEST must be a container path (CONTAINER:PATH)');
    const interrupt = interruptSignal();
    const o = { archive, onWarning: (m: string): void => void process.stderr.write(`WARN: ${m}\n`), signal: interrupt.signal };
    try {
      await withStore(cmd, async (store) => {
        if (dst.container !== undefined) await copyIntoContainer(store, dst.container, dst.path, src.path === '-' ? { tar: process.stdin } : src.path, o);
        else await copyOutOfContainer(store, src.container!, src.path, dst.path === '-' ? { tar: process.stdout } : dst.path, o);
      });
    } finally {
      interrupt.dispose();
    }
  });
}
