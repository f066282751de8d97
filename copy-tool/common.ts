import type { Command } from 'commander';
import { SkiffError, isSkiffError } from '../shared/errors.ts';
import { openSource, type TransportContext } from '../shared/transport/open.ts';
import type { OpenedSource } from '../shared/transport/types.ts';
import type { ImageName } from '../shared/ref/transport-name.ts';
import type { Platform } from '../shared/oci/types.ts';
import { hostPlatform, normalizePlatform } from '../shared/image/platform.ts';

/** skopeo needs an explicit transport on every image argument; a plain name is a usage error. */
export function requireTransport(name: ImageName, input: string): Exclude<ImageName, { transport: 'plain' }> {
  if (name.transport === 'plain') {
    throw new SkiffError('EINVALID', `invalid image name ${JSON.stringify(input)}, expected colon-separated transport:reference`, {
      hint: 'e.g. docker://127.0.0.1:5000/app:1, oci:/path:tag, store:app',
    });
  }
  return name;
}

/** The platform chosen by the global `--override-os/--override-arch/--override-variant`, or undefined for the host's. */
export function platformOverride(cmd: Command): Platform | undefined {
  const o = cmd.optsWithGlobals() as { overrideOs?: string; overrideArch?: string; overrideVariant?: string };
  if (!o.overrideOs && !o.overrideArch && !o.overrideVariant) return undefined;
  const host = hostPlatform();
  const p: Platform = { os: o.overrideOs ?? host.os, architecture: o.overrideArch ?? host.architecture };
  if (o.overrideVariant) p.variant = o.overrideVariant;
  return normalizePlatform(p);
}

/**
 * Opens an image source; a missing file or directory behind a local transport (an archive that does not exist)
 * becomes ENOTFOUND naming the image (skopeo's exit 2), not a bare errno message.
 */
export async function openNamedSource(name: Exclude<ImageName, { transport: 'plain' }>, input: string, ctx: TransportContext): Promise<OpenedSource> {
  try {
    return await openSource(name, ctx);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (!isSkiffError(e) && err?.code === 'ENOENT') {
      throw new SkiffError('ENOTFOUND', `image ${input} not found: ${err.path ?? 'file'} does not exist`, { cause: e });
    }
    throw e;
  }
}
