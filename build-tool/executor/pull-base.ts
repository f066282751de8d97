import type { Platform } from '../../shared/oci/types.ts';
import type { RegistryOptions } from '../../shared/registry/types.ts';
import { parseReference } from '../../shared/ref/reference.ts';
import { parseImageName } from '../../shared/ref/transport-name.ts';
import { loadPolicy, type Policy } from '../../shared/signature/policy.ts';
import { copyImage } from '../../shared/transport/copy-image.ts';
import { openSource } from '../../shared/transport/open.ts';
import { checkSourcePolicy } from '../../shared/transport/source-policy.ts';
import { openStoreTarget } from '../../shared/transport/store.ts';

/**
 * Pulls FROM image `ref` (for `platform`) from its registry into the store at `storeRoot`, after the trust-policy
 * check (the policy from `trust`, else the default policy files) passes; nothing is stored when it fails.
 */
export async function pullBaseImage(storeRoot: string, ref: string, platform: Platform, registry: RegistryOptions, trust: (() => Promise<Policy>) | undefined, signal?: AbortSignal): Promise<void> {
  const so = signal ? { signal } : {};
  const ctx = { storeRoot, registry, ...so };
  const name = parseImageName(`docker://${ref}`);
  const src = await openSource(name, ctx);
  try {
    // the FROM pull runs the same trust-policy check as copy-tool and run-tool pull, before anything is stored
    await checkSourcePolicy(src, name.transport === 'docker' ? parseImageName(src.name) : name, trust ? await trust() : await loadPolicy(so), so);
    const dst = await openStoreTarget(storeRoot, { ref: parseReference(ref) }, so);
    try {
      await copyImage(src, dst, { platform, ...so });
    } finally {
      await dst.close();
    }
  } finally {
    await src.close();
  }
}
