import type { Command } from 'commander';
import { writeFile } from 'node:fs/promises';
import { SkiffError } from '../shared/errors.ts';
import { parseImageName, type ImageName } from '../shared/ref/transport-name.ts';
import { parsePlatform } from '../shared/image/platform.ts';
import { openTarget } from '../shared/transport/open.ts';
import { copyImage, type CopyOptions } from '../shared/transport/copy-image.ts';
import { ProgressReporter, progressMode } from '../shared/cli/progress.ts';
import { addCopyOptions, boolOption, commandSignal, debugOf, policyOf, tmpDirOf, transportContext } from './options.ts';
import { checkSourcePolicy } from '../shared/transport/source-policy.ts';
import { dockerReferenceOf } from '../shared/signature/policy-scope.ts';
import type { CopySigner, CopySignFlags } from '../shared/signature/copy-signer.ts';
import { openNamedSource, platformOverride, requireTransport } from './common.ts';
import { collect } from '../shared/cli/flags.ts';

/** Flags shared by copy and sync that shape what is written. */
export interface CopyFlags {
  all?: boolean;
  multiArch?: string;
  platform?: string;
  preserveDigests?: boolean;
  format?: string;
  destCompressFormat?: string;
  destCompressLevel?: number;
  removeSignatures?: boolean;
  imageParallelCopies?: number;
  quiet?: boolean;
  progress?: string;
}

/** Adds the flags copy and sync share (skopeo's names). */
export function addCopyShapeOptions(cmd: Command): Command {
  cmd
    .option('-a, --all', 'copy all images if SOURCE-IMAGE is a list')
    .option('--multi-arch <which>', "which images of a list to copy: 'system' (default), 'all' or 'index-only'")
    .option('--platform <os/arch[/variant]>', 'the platform to copy from a list (default: this machine, or --override-*)')
    .option('--preserve-digests', 'fail if the copy would change any digest')
    .option('-f, --format <format>', "manifest type to write: 'oci' or 'v2s2'")
    .option('--dest-compress-format <format>', "compression for layers written: 'gzip' or 'zstd'")
    .option('--dest-compress-level <n>', 'compression level for layers written', (v) => Number.parseInt(v, 10))
    .option('--remove-signatures', 'do not copy signatures from SOURCE-IMAGE')
    .option('--image-parallel-copies <n>', 'maximum number of blobs copied at once (default 6)', (v) => Number.parseInt(v, 10))
    .option('-q, --quiet', 'suppress output information when copying images')
    .option('--progress <mode>', "progress output on stderr: 'auto', 'tty', 'plain', 'json' or 'quiet'", 'auto');
  boolOption(cmd, '--dest-compress', 'compress layers when writing to dir: (accepted for compatibility)');
  return cmd;
}

/** Adds skopeo's signing flags (copy and sync). */
export function addSignOptions(cmd: Command): Command {
  return cmd
    .option('--sign-by <fingerprint>', 'sign the image using a GPG key with the specified FINGERPRINT (through gpg)')
    .option('--sign-by-key <file>', 'sign the image with an armored OpenPGP private key file (no gpg needed)')
    .option('--sign-by-sigstore-private-key <path>', 'sign the image using a sigstore private key at PATH')
    .option('--sign-passphrase-file <path>', 'read a passphrase for signing an image from PATH')
    .option('--sign-identity <reference>', 'identity of the signed image (default: the destination reference)');
}

/** The docker reference a destination name signs for (undefined for dir:/oci: without one). */
export function destinationIdentity(name: ImageName): string | undefined {
  try {
    return dockerReferenceOf(name);
  } catch {
    return undefined;
  }
}

/**
 * The signer the signing flags ask for (makeCopySigner: keys loaded and unlocked up front, flag conflicts
 * refused), or undefined without any of them. The signing code (OpenPGP, sigstore) loads only when a signing
 * flag is given: a copy that signs nothing never parses it.
 */
export async function copySignerFor(f: CopySignFlags, dst: ImageName, o: { signal?: AbortSignal }): Promise<CopySigner | undefined> {
  const any = [f.signBy, f.signByKey, f.signBySigstorePrivateKey, f.signIdentity, f.signPassphraseFile].some((v) => v !== undefined);
  if (!any) return undefined;
  const { makeCopySigner } = await import('../shared/signature/copy-signer.ts');
  return makeCopySigner(f, destinationIdentity(dst), o);
}

/** CopyOptions for copyImage from the shared flags; EINVALID on bad values, before anything is opened. */
export function copyOptionsOf(cmd: Command, f: CopyFlags, signal: AbortSignal): CopyOptions {
  const o: CopyOptions = { signal };
  const tmpDir = tmpDirOf(cmd);
  if (tmpDir) o.tmpDir = tmpDir;
  let multi = f.multiArch;
  if (f.all) multi = multi && multi !== 'all' ? badFlag('--all conflicts with --multi-arch', multi) : 'all';
  if (multi !== undefined) {
    if (multi !== 'system' && multi !== 'all' && multi !== 'index-only') badFlag('unknown --multi-arch value', multi, "use 'system', 'all' or 'index-only'");
    o.multiArch = multi as CopyOptions['multiArch'];
  }
  const platform = f.platform ? parsePlatform(f.platform) : platformOverride(cmd);
  if (platform) o.platform = platform;
  if (f.preserveDigests) o.preserveDigests = true;
  if (f.format !== undefined) {
    if (f.format !== 'oci' && f.format !== 'v2s2') badFlag('unknown --format', f.format, "use 'oci' or 'v2s2'");
    o.format = f.format === 'oci' ? 'oci' : 'docker';
  }
  if (f.destCompressFormat !== undefined) {
    if (f.destCompressFormat !== 'gzip' && f.destCompressFormat !== 'zstd') badFlag('unknown --dest-compress-format', f.destCompressFormat, "use 'gzip' or 'zstd'");
    o.compressFormat = f.destCompressFormat as 'gzip' | 'zstd';
  }
  if (f.destCompressLevel !== undefined) {
    if (!Number.isInteger(f.destCompressLevel)) badFlag('invalid --dest-compress-level', String(f.destCompressLevel));
    o.compressLevel = f.destCompressLevel;
  }
  if (f.removeSignatures) o.removeSignatures = true;
  if (f.imageParallelCopies !== undefined) {
    if (!Number.isInteger(f.imageParallelCopies) || f.imageParallelCopies < 1) badFlag('invalid --image-parallel-copies', String(f.imageParallelCopies));
    o.parallel = f.imageParallelCopies;
  }
  return o;
}

function badFlag(what: string, value: string, hint?: string): never {
  throw new SkiffError('EINVALID', `${what} ${JSON.stringify(value)}`, hint ? { hint } : {});
}

/** `copy [flags] SOURCE-IMAGE DESTINATION-IMAGE` with skopeo's flags; progress on stderr. */
export function addCopyCommand(program: Command): void {
  const cmd = program
    .command('copy')
    .description('copy an image from one location to another')
    .argument('<source-image>', 'transport:reference')
    .argument('<destination-image>', 'transport:reference')
    .option('--additional-tag <tag>', 'additional tags to write (docker-archive:, store:, oci:)', collect, [] as string[])
    .option('--digestfile <path>', 'write the digest of the written manifest to this file');
  addCopyShapeOptions(cmd);
  addSignOptions(cmd);
  addCopyOptions(cmd).action(async (srcArg: string, dstArg: string, f: CopyFlags & CopySignFlags & { additionalTag: string[]; digestfile?: string }) => {
    const srcName = requireTransport(parseImageName(srcArg), srcArg);
    const dstName = requireTransport(parseImageName(dstArg), dstArg);
    const { signal, dispose } = commandSignal(cmd);
    const progress = new ProgressReporter(progressMode(f.progress, f.quiet === true));
    const options = copyOptionsOf(cmd, f, signal);
    if (f.additionalTag.length > 0) options.additionalTags = f.additionalTag;
    options.onProgress = progress.onEvent;
    const policy = await policyOf(cmd, signal);
    const sign = await copySignerFor(f, dstName, { signal });
    if (sign) options.sign = sign;
    // A registry destination opens without side effects and starts its ping at once, so it opens beside the
    // source (the two registries' round trips overlap); `stop` ends a ping still retrying when the copy is over.
    const stop = new AbortController();
    const early = dstName.transport === 'docker' ? openTarget(dstName, transportContext(cmd, AbortSignal.any([signal, stop.signal]), 'dest')) : undefined;
    early?.catch(() => {});
    let src;
    try {
      src = await openNamedSource(srcName, srcArg, transportContext(cmd, signal, 'src'));
    } catch (e) {
      stop.abort();
      progress.finish();
      dispose();
      throw e;
    }
    try {
      const debug = debugOf(cmd);
      await checkSourcePolicy(src, srcName, policy, { signal, debug });
      const dst = await (early ?? openTarget(dstName, transportContext(cmd, signal, 'dest')));
      try {
        const r = await copyImage(src, dst, options);
        if (f.digestfile) await writeFile(f.digestfile, r.digest);
      } finally {
        await dst.close();
      }
    } finally {
      stop.abort();
      progress.finish();
      dispose();
      await src.close();
    }
  });
}
