import type { RegistryOptions } from '../registry/types.ts';

/**
 * What opening a transport needs besides the name: the local store's root (store:), how to reach
 * registries (docker://; `registry.registriesConf` also serves store: short names), a temp dir for archive sources (defaults to
 * the OS temp dir) and a cancellation signal.
 */
export interface TransportContext {
  storeRoot: string;
  registry: RegistryOptions;
  /** Where archive sources extract to (default os.tmpdir()); removed on close. */
  tmpDir?: string;
  signal?: AbortSignal;
  /** registries.d directories for signature storage (global `--registries.d`); default: system + user dirs. */
  registriesDirs?: string[];
}
