import { SkiffError, type Cancellable } from '../errors.ts';
import { runProgram as run } from '../process/run.ts';

/**
 * Extended attributes through attr's `getfattr`/`setfattr` (Node has no xattr API). Every call passes `-h`:
 * a symlink's own attributes are read or written, never its target's.
 */

/** Undoes getfattr's escaping of file names (`\ooo` octal bytes, `\\`). */
function unescapeName(s: string): string {
  const bytes: number[] = [];
  const raw = Buffer.from(s, 'utf8');
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === 0x5c && i + 1 < raw.length) {
      if (raw[i + 1] === 0x5c) {
        bytes.push(0x5c);
        i++;
        continue;
      }
      const oct = raw.subarray(i + 1, i + 4).toString('latin1');
      if (/^[0-7]{3}$/.test(oct)) {
        bytes.push(parseInt(oct, 8));
        i += 3;
        continue;
      }
    }
    bytes.push(c);
  }
  return Buffer.from(bytes).toString('utf8');
}

function decodeValue(v: string): Buffer {
  if (v.startsWith('0s')) return Buffer.from(v.slice(2), 'base64');
  if (v.startsWith('0x')) return Buffer.from(v.slice(2), 'hex');
  if (v.startsWith('"') && v.endsWith('"')) return Buffer.from(v.slice(1, -1), 'utf8');
  return Buffer.from(v, 'utf8');
}

function parseDump(text: string): Map<string, Map<string, Buffer>> {
  const out = new Map<string, Map<string, Buffer>>();
  let cur: Map<string, Buffer> | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('# file: ')) {
      cur = new Map();
      out.set(unescapeName(line.slice('# file: '.length)), cur);
    } else if (cur && line.length > 0 && !line.startsWith('#')) {
      const eq = line.indexOf('=');
      if (eq < 0) cur.set(unescapeName(line), Buffer.alloc(0));
      else cur.set(unescapeName(line.slice(0, eq)), decodeValue(line.slice(eq + 1)));
    }
  }
  return out;
}

/**
 * All xattrs of every path under `dir` (recursive, physical walk, symlinks not followed), keyed by absolute
 * path. One getfattr process for the whole tree. Paths without xattrs are absent. Read-only.
 */
export async function readTreeXattrs(dir: string, opts: Cancellable = {}): Promise<Map<string, Map<string, Buffer>>> {
  const r = await run('getfattr', ['-R', '-P', '-h', '-d', '-m', '-', '-e', 'base64', '--absolute-names', '--', dir], { signal: opts.signal });
  return parseDump(r.stdout);
}

/** The xattrs of one path itself (a symlink's own, never its target's). Read-only. */
export async function getXattrs(path: string, opts: Cancellable = {}): Promise<Map<string, Buffer>> {
  const r = await run('getfattr', ['-h', '-d', '-m', '-', '-e', 'base64', '--absolute-names', '--', path], { signal: opts.signal });
  return parseDump(r.stdout).values().next().value ?? new Map();
}

/**
 * Sets one xattr on `path` itself (`setfattr -h`: never through a symlink). Fails with EIO naming the attribute.
 * `fd` is passed to setfattr as its descriptor 3, for a `path` of the form `/proc/self/fd/3/<name>`.
 */
export async function setXattr(path: string, name: string, value: Uint8Array, opts: { signal?: AbortSignal; fd?: number } = {}): Promise<void> {
  const v = '0s' + Buffer.from(value).toString('base64');
  const r = await run('setfattr', ['-h', '-n', name, '-v', v, '--', path], { signal: opts.signal, ...(opts.fd !== undefined && { fds: [opts.fd] }) });
  if (r.code !== 0) throw new SkiffError('EIO', `cannot set xattr ${name} on ${path}: ${r.stderr.trim()}`);
}
