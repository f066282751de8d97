import type { Readable } from 'node:stream';
import { applyChanges } from '../../shared/image/changes.ts';
import { parsePlatform } from '../../shared/image/platform.ts';
import { formatReference, localTagForm } from '../../shared/ref/reference.ts';
import { openStore } from '../../shared/store/store.ts';
import { importTarball } from '../../shared/transport/tarball.ts';

// The import operation (podman's `import`): a root filesystem tarball becomes a one-layer image.

/** importImage's options (podman's `import` flags). */
export interface ImportImageOptions {
  /** The image's name (`app` → `localhost/app:latest`); dangling when undefined. */
  name?: string;
  /** `os/arch[/variant]` to record (default: this machine). */
  platform?: string;
  format?: 'oci' | 'docker';
  /** The history comment. */
  message?: string;
  /** Dockerfile-style config changes (applyChanges'). */
  changes?: readonly string[];
  signal?: AbortSignal;
}

/**
 * Imports `input` (a tarball path or stream: plain, gzip or zstd) into the store at `root` (created when missing)
 * as importTarball does; the name, platform and changes are checked before the store is touched. Returns the
 * image ID (`sha256:…`).
 */
export async function importImage(root: string, input: string | Readable, o: ImportImageOptions = {}): Promise<{ id: string }> {
  const name = o.name === undefined ? undefined : formatReference(localTagForm(o.name));
  const platform = o.platform ? parsePlatform(o.platform) : undefined;
  const config = applyChanges({}, o.changes ?? []);
  const store = await openStore(root, { create: true });
  try {
    const { id } = await importTarball(store, input, {
      name,
      platform,
      format: o.format ?? 'oci',
      comment: o.message ?? 'imported from tarball',
      config,
      signal: o.signal,
    });
    return { id };
  } finally {
    await store.close();
  }
}
