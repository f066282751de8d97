import { SkiffError, isSkiffError, type Cancellable } from '../../shared/errors.ts';
import { resolveImage } from '../../shared/image/index-view.ts';
import { MediaType } from '../../shared/oci/media-types.ts';
import type { Platform } from '../../shared/oci/types.ts';
import { formatReference, normalizePull, parseReference, type Reference } from '../../shared/ref/reference.ts';
import { loadShortNameConfig } from '../../shared/ref/registries-conf.ts';
import { resolvePullName, type ShortNameConfig } from '../../shared/ref/short-name.ts';
import { parseImageName, type ImageName } from '../../shared/ref/transport-name.ts';
import { openRepository } from '../../shared/registry/repository.ts';
import type { RegistryOptions } from '../../shared/registry/types.ts';
import { loadPolicy, type Policy } from '../../shared/signature/policy.ts';
import { lookupImage } from '../../shared/store/lookup.ts';
import { openStore } from '../../shared/store/store.ts';
import { copyImage, type ProgressEvent } from '../../shared/transport/copy-image.ts';
import { openSource } from '../../shared/transport/open.ts';
import { openPullSource } from '../../shared/transport/pull-source.ts';
import { checkSourcePolicy } from '../../shared/transport/source-policy.ts';
import { openStoreTarget } from '../../shared/transport/store.ts';
import type { OpenedSource } from '../../shared/transport/types.ts';
import { recordImageEvent } from '../containers/record-event.ts';

// The pull operation (podman's `pull`, and `run`/`create --pull`): plain options in, the stored name and ID out.

/** Options of pullImage. */
export interface PullOptions {
  registry?: RegistryOptions;
  platform?: Platform;
  /** Short-name resolution settings (default: loaded from registries.conf when a short name is pulled). */
  shortNames?: ShortNameConfig;
  /** Progress lines (podman's "Copying blob …") go here; nothing when undefined. */
  log?: (line: string) => void;
  signal?: AbortSignal;
  /** The trust policy (default: loadPolicy's — $HOME/.config/containers/policy.json, /etc/containers/policy.json, else accept). */
  policy?: Policy;
  /** registries.d directories for reading signatures (default: system + user). */
  registriesDirs?: string[];
  debug?: (line: string) => void;
}

/** The trust policy of a pull command: `--insecure-policy`, `--policy FILE` (podman's `--signature-policy`), else the default files. */
export async function pullPolicyOf(a: { policy?: string; signaturePolicy?: string; insecurePolicy?: boolean }, o: { signal?: AbortSignal; debug?: (line: string) => void } = {}): Promise<Policy> {
  const path = a.policy ?? a.signaturePolicy;
  return loadPolicy({ ...(path !== undefined ? { path } : {}), insecure: a.insecurePolicy === true, debug: o.debug, signal: o.signal });
}

/**
 * A pull's trust-policy check (policy.json + the source's signatures), called with the fully qualified source name
 * before anything is written to the store: a rejection is EPERM "Source image rejected: …" (exit 125) and nothing
 * is stored. Loads the default policy files when `o.policy` is not given.
 */
export async function checkPullPolicy(src: OpenedSource, name: ImageName, o: { policy?: Policy; signal?: AbortSignal; debug?: (line: string) => void } = {}): Promise<void> {
  const so = { signal: o.signal };
  const policy = o.policy ?? (await loadPolicy({ ...so, debug: o.debug }));
  await checkSourcePolicy(src, name, policy, { ...so, debug: o.debug });
}

function progressLines(log: (line: string) => void): (e: ProgressEvent) => void {
  return (e) => {
    const what = e.mediaType === MediaType.OciConfig || e.mediaType === MediaType.DockerConfig ? 'config' : 'blob';
    if (e.kind === 'blob-start') log(`Copying ${what} ${e.digest}`);
    else if (e.kind === 'blob-skip') log(`Copying ${what} ${e.digest} skipped: already exists`);
    else if (e.kind === 'manifest') log('Writing manifest to image destination');
  };
}

/** Opens the source `pullImage(root, image, o)` copies from (see there), with the name it was opened as. */
async function openPullImageSource(root: string, image: string, o: PullOptions): Promise<{ src: OpenedSource; srcName: ImageName }> {
  const parsed = parseImageName(image);
  const ctx = { storeRoot: root, registry: o.registry ?? {}, signal: o.signal, ...(o.registriesDirs ? { registriesDirs: o.registriesDirs } : {}) };
  const srcName = parsed.transport === 'plain' ? { transport: 'docker' as const, ref: parsed.ref } : parsed;
  if (srcName.transport === 'store') throw new SkiffError('EINVALID', `cannot pull from the local store: ${image}`);
  if (parsed.transport === 'plain') {
    // as libimage: an explicit platform pulls through the short-name resolution even when a stored image matches
    return { src: await openPullSource(parsed.ref, ctx, { ...(o.shortNames ? { shortNames: o.shortNames } : {}), ...(o.platform ? { ignoreStored: true } : {}), ...(o.log ? { log: o.log } : {}) }), srcName };
  }
  if (srcName.transport === 'docker') o.log?.(`Trying to pull ${formatReference(normalizePull(srcName.ref))}...`);
  return { src: await openSource(srcName, ctx), srcName };
}

/**
 * The image ID (config digest) `pullImage(root, image, o)` would store, read from the source without pulling: the
 * manifest for `o.platform` or this host's, and no blob. What `auto-update --dry-run` compares with a container's image.
 */
export async function sourceImageId(root: string, image: string, o: PullOptions = {}): Promise<string> {
  const { src } = await openPullImageSource(root, image, o);
  try {
    const img = await resolveImage(src, { ...(o.platform ? { platform: o.platform } : {}), signal: o.signal });
    return (await img.manifest({ signal: o.signal })).config.digest;
  } finally {
    await src.close();
  }
}

/**
 * Pulls `image` (a short or qualified name, optionally `docker://`-prefixed; or a transport-qualified archive/
 * layout name) from a registry into the store at `root`, as `podman pull` does: a short name written without a
 * transport is pulled from where its stored image came from, else resolved through registries.conf
 * (openPullSource: alias, else the search registries in order; `docker://NAME` means Docker Hub, as in podman),
 * an index resolves to the wanted platform, blobs are verified while they stream, and the name is committed only
 * when everything is stored. Returns the stored name and image ID.
 */
export async function pullImage(root: string, image: string, o: PullOptions = {}): Promise<{ name?: string; id: string }> {
  const so = { signal: o.signal };
  const { src, srcName } = await openPullImageSource(root, image, o);
  try {
    // the name to store: the qualified name the registry answered for, or the archive's own name
    let ref: Reference | undefined;
    if (srcName.transport === 'docker') ref = parseReference(src.name.slice('docker://'.length));
    else if (srcName.transport === 'docker-archive' && srcName.ref) ref = srcName.ref;
    if (ref && ref.tag === undefined && ref.digest !== undefined) {
      // by-digest pulls are stored untagged under the repository (podman lists them with TAG <none>)
      ref = undefined;
    }
    const name = ref ? formatReference(ref) : undefined;
    // the policy scope is the source as resolved (a short name → the registry that answered)
    const policyName: ImageName = srcName.transport === 'docker' ? parseImageName(src.name) : srcName;
    await checkPullPolicy(src, policyName, { ...so, ...(o.policy ? { policy: o.policy } : {}), debug: o.debug });
    o.log?.('Getting image source signatures');
    const dst = await openStoreTarget(root, ref ? { ref } : {}, so);
    try {
      const r = await copyImage(src, dst, { ...(o.platform ? { platform: o.platform } : {}), ...(o.log ? { onProgress: progressLines(o.log) } : {}), ...so });
      o.log?.('Storing signatures');
      const store = await openStore(root, so);
      try {
        let id: string | undefined;
        if (name) id = (await lookupImage(store.layout, name, so).catch((e) => (isSkiffError(e, 'ENOTFOUND') ? undefined : Promise.reject(e))))?.id;
        id ??= (await store.layout.findImage(r.digest, so)).id ?? r.digest;
        recordImageEvent(root, 'pull', name ?? image, id);
        return { ...(name ? { name } : {}), id };
      } finally {
        await store.close();
      }
    } finally {
      await dst.close();
    }
  } finally {
    await src.close();
  }
}

/**
 * The names `pull --all-tags IMAGE` pulls: every tag the repository of `image` lists, as `docker://` names. EINVALID
 * for a non-registry name, or one that already carries a tag or digest.
 */
export async function allTagNames(image: string, registry: RegistryOptions, o: Cancellable = {}): Promise<string[]> {
  const parsed = parseImageName(image);
  const r = parsed.transport === 'plain' || parsed.transport === 'docker' ? parsed.ref : undefined;
  if (!r) throw new SkiffError('EINVALID', '--all-tags works with registry images only');
  if (r.tag !== undefined || r.digest !== undefined) throw new SkiffError('EINVALID', `tag or digest can't be used with --all-tags: ${image}`);
  const q = parsed.transport === 'docker' ? normalizePull(r) : resolvePullName(r, await loadShortNameConfig(o)).candidates[0]!;
  const tags = await openRepository(q.registry, q.path, registry).listTags(o);
  return tags.map((t) => `docker://${q.registry}/${q.path}:${t}`);
}
