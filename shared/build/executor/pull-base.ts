import type { Platform } from '../../oci/types.ts';
import type { RegistryOptions } from '../../registry/types.ts';
import { parseReference, type Reference } from '../../ref/reference.ts';
import { parseImageName } from '../../ref/transport-name.ts';
import { loadPolicy, type Policy } from '../../signature/policy.ts';
import { copyImage } from '../../transport/copy-image.ts';
import { openPullSource } from '../../transport/pull-source.ts';
import { checkSourcePolicy } from '../../transport/source-policy.ts';
import { openStoreTarget } from '../../transport/store.ts';

/**
 * Pulls FROM image `ref` (for `platform`) from its registry into the store at `storeRoot`, after the trust-policy
 * check (the policy from `trust`, else the default policy files) passes; nothing is stored when it fails. A
 * short name is resolved as podman and buildah resolve it (openPullSource: alias, else the search registries of
 * registries.conf, none → "short-name … did not resolve"), and the image is stored under the name it was pulled
 * as (`127.0.0.1:5000/busybox:latest`), unnamed when pulled by digest alone. Progress lines go to `log`.
 */
export async function pullBaseImage(storeRoot: string, ref: string, platform: Platform, registry: RegistryOptions, trust: (() => Promise<Policy>) | undefined, signal?: AbortSignal, log?: (line: string) => void): Promise<void> {
  const so = { signal };
  const ctx = { storeRoot, registry, ...so };
  const src = await openPullSource(parseReference(ref), ctx, log ? { log } : {});
  try {
    // the FROM pull runs the same trust-policy check as copy-tool and run-tool pull, before anything is stored
    await checkSourcePolicy(src, parseImageName(src.name), trust ? await trust() : await loadPolicy(so), so);
    const pulled: Reference = parseReference(src.name.slice('docker://'.length));
    const dst = await openStoreTarget(storeRoot, pulled.tag !== undefined ? { ref: pulled } : {}, so);
    try {
      await copyImage(src, dst, { platform, ...so });
    } finally {
      await dst.close();
    }
  } finally {
    await src.close();
  }
}
