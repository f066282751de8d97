/**
 * `push [--tls-verify] [--creds] [--authfile] [--format] [--digestfile] [--compression-format] NAME [DEST]`: copies a
 * local image to a registry (or any transport). One implementation for build-tool (buildah push) and run-tool (podman
 * push): both tools register it, so the two cannot drift. containers.conf's `image_default_transport` (default
 * `docker://`) qualifies a destination given without a transport, and its `compression_format` is the default of
 * `--compression-format`.
 */
import type { Command } from 'commander';
import { writeFile } from 'node:fs/promises';
import { SkiffError } from '../errors.ts';
import { addRootOption, storeRootOf } from './program.ts';
import { parseCredentials } from './credentials-flag.ts';
import { hasTransportPrefix, parseImageName } from '../ref/transport-name.ts';
import { parseReference } from '../ref/reference.ts';
import { openTarget } from '../transport/open.ts';
import { openStoreSource } from '../transport/store.ts';
import { copyImage } from '../transport/copy-image.ts';
import { parseBool } from './flags.ts';
import { containersConf } from '../config/containers-conf.ts';

/** podman's/buildah's `--compression-format` values, checked before anything is read or written. */
export function parseCompressionFormat(v: unknown): 'gzip' | 'zstd' | undefined {
  if (v === undefined) return undefined;
  const s = String(v);
  if (s === 'gzip' || s === 'zstd') return s;
  if (s === 'zstd:chunked') return 'zstd';
  throw new SkiffError('EINVALID', `invalid --compression-format ${JSON.stringify(s)}`, { hint: 'use gzip or zstd' });
}

/** The manifest format of `--format` (`oci`, `docker` or `v2s2`); undefined keeps the stored one. */
export function parsePushFormat(v: unknown): 'oci' | 'docker' | undefined {
  if (v === undefined) return undefined;
  if (v === 'oci') return 'oci';
  if (v === 'docker' || v === 'v2s2') return 'docker';
  throw new SkiffError('EINVALID', `invalid --format ${JSON.stringify(String(v))}`, { hint: 'use oci or docker (v2s2)' });
}

/** Adds `push`. DEST defaults to `docker://NAME`; a DEST without a transport is a registry reference. */
export function addPushCommand(program: Command): void {
  const cmd = program
    .command('push')
    .description('push a local image to a registry or another destination')
    .argument('<name>')
    .argument('[destination]')
    .option('--tls-verify [bool]', 'verify TLS certificates (default true)')
    .option('--creds <user:password>', 'registry credentials')
    .option('--authfile <file>', 'registry credentials file')
    .option('-f, --format <format>', 'manifest format: oci or docker (v2s2)')
    .option('--digestfile <file>', 'write the digest of the pushed manifest to this file')
    .option('--compression-format <format>', 'compress layers with gzip or zstd')
    .option('--compression-level <n>', 'compression level')
    .option('--remove-signatures', 'do not copy signatures')
    .option('-q, --quiet', 'no progress output');
  addRootOption(cmd).action(async (name: string, dest: string | undefined, f: Record<string, unknown>) => {
    const root = storeRootOf(cmd);
    // containers.conf is read only when a default is needed: a transport or a compression the command line leaves out
    const conf = dest !== undefined && hasTransportPrefix(dest) && f.compressionFormat !== undefined ? undefined : containersConf();
    const transport = conf?.imageDefaultTransport ?? 'docker://';
    const target = parseImageName(dest === undefined ? `${transport}${name}` : hasTransportPrefix(dest) ? dest : `${transport}${dest}`);
    const registry = {
      tlsVerify: f.tlsVerify === undefined ? undefined : f.tlsVerify === true || parseBool(String(f.tlsVerify)),
      credentials: f.creds === undefined ? undefined : parseCredentials(String(f.creds)),
      authFile: f.authfile === undefined ? undefined : String(f.authfile),
    };
    const format = parsePushFormat(f.format);
    const compressFormat = parseCompressionFormat(f.compressionFormat ?? conf?.compressionFormat);
    const level = f.compressionLevel === undefined ? undefined : Number.parseInt(String(f.compressionLevel), 10);
    if (level !== undefined && !Number.isFinite(level)) throw new SkiffError('EINVALID', `invalid --compression-level ${String(f.compressionLevel)}`, { hint: 'give a whole number' });
    let ref;
    try {
      ref = parseReference(name); // found as buildah finds it: podman's short-name matching (lookupImage)
    } catch {
      ref = undefined;
    }
    const src = await openStoreSource(root, ref ? { ref } : {});
    try {
      const dst = await openTarget(target, { storeRoot: root, registry });
      try {
        const r = await copyImage(src, dst, {
          ...(format && { format }),
          ...(compressFormat && { compressFormat }),
          ...(level !== undefined && { compressLevel: level }),
          ...(f.removeSignatures === true && { removeSignatures: true }),
        });
        if (f.digestfile !== undefined) await writeFile(String(f.digestfile), r.digest);
        if (!f.quiet) process.stderr.write(`pushed ${src.name.startsWith('store:') ? src.name.slice('store:'.length) : name}\n`);
      } finally {
        await dst.close();
      }
    } finally {
      await src.close();
    }
  });
}
