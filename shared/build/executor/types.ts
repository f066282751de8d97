/** Shared types of the build executor. */
import type { Digest } from '../../oci/digest.ts';
import type { History, ImageConfig, Platform } from '../../oci/types.ts';
import type { RegistryOptions } from '../../registry/types.ts';
import type { Store } from '../../store/store.ts';
import type { IgnoreMatcher } from '../dockerfile/index.ts';
import type { BuildCache } from '../cache/cache-store.ts';
import type { FileDigests } from '../cache/file-digests.ts';
import type { BuildDir } from './build-dir.ts';
import type { StageLayer } from './layers.ts';
import type { BuildReporter } from './report.ts';

/** What `build-tool build` asks for. Everything but storeRoot, contextDir and dockerfile is optional. */
export interface BuildOptions {
  storeRoot: string;
  contextDir: string;
  /** Dockerfile text and its path (for messages and `<Dockerfile>.dockerignore`). */
  dockerfile: { text: string; path?: string };
  tags?: string[];
  buildArgs?: Record<string, string>;
  target?: string;
  noCache?: boolean;
  /** use and record the layer cache (default true) */
  layers?: boolean;
  /** Loads the trust policy for FROM pulls (policy.json), called only when a pull happens; default: loadPolicy's default files. */
  trustPolicy?: () => Promise<import('../../signature/policy.ts').Policy>;
  pull?: 'always' | 'missing' | 'never' | 'newer';
  platform?: Platform;
  format?: 'oci' | 'docker';
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  squash?: boolean;
  /** seconds since the epoch: every created time and file time (SOURCE_DATE_EPOCH) */
  timestamp?: number;
  /** `--secret id=…,src=…|env=…` */
  secrets?: Map<string, { src?: string; env?: string }>;
  /** `--network`: 'private' (default: a namespace per RUN), 'host', 'none' or a network name — run-network.ts */
  network?: string;
  iidfile?: string;
  outputs?: { type: 'local' | 'tar'; dest: string }[];
  ignorefile?: string;
  jobs?: number;
  /** `--ssh ID=PATH`: an agent socket or a private key file (id `default` from $SSH_AUTH_SOCK) — ssh-sources.ts */
  ssh?: Map<string, string | readonly string[]>;
  /** `--build-context NAME=VALUE` (parsed; named-contexts.ts) */
  buildContexts?: Map<string, import('../context/named-contexts.ts').NamedContextSpec>;
  /** the context dir is a fetched remote context (removed after the build): its file digests are not memoised */
  contextTransient?: boolean;
  /** cap on a downloaded tarball context (default DEFAULT_CONTEXT_MAX_BYTES) */
  contextMaxBytes?: number;
  /** `--cap-add` / `--cap-drop`: capabilities of every RUN, on top of the build defaults (names with or without CAP_, or ALL) */
  capAdd?: string[];
  capDrop?: string[];
  /** give each RUN this process's standard input (the scripting verb `run`, as buildah's); a build's RUN reads nothing */
  runStdin?: boolean;
  /** `-v HOST:CTR[:OPTS]` (buildah's build --volume) and `run --mount`: mounted into every RUN, never into a layer */
  runMounts?: import('../../runtime/mounts.ts').MountRequest[];
  allow?: string[];
  registry?: RegistryOptions;
  reporter?: BuildReporter;
  /** runc binary and state dir (defaults: requireProgram('runc'), runcRootFor()) */
  runc?: string;
  runcRoot?: string;
  addUrlMaxBytes?: number;
  /** `--cache-from` / `--cache-to` / `--cache-ttl` (shared/build/cache/cache-options.ts) */
  cache?: import('../cache/cache-options.ts').CacheOptions;
  signal?: AbortSignal;
}

/** Counters a test can assert on (a fully cached rebuild runs, copies and hashes nothing). */
export interface BuildStats {
  runs: number;
  copies: number;
  cacheHits: number;
  layers: number;
  filesHashed: number;
}

/** A built stage: its config (rootfs and history complete), layers and state key. */
export interface StageResult {
  index: number;
  config: ImageConfig;
  layers: StageLayer[];
  history: History[];
  key: Digest;
  baseLayerCount: number;
  baseHistoryCount: number;
}

/** What the steps of a build share. */
export interface BuildCtx {
  o: BuildOptions;
  store: Store;
  /** the build's state dir, created (with its lock and watchdog) on first call; the same one afterwards */
  buildDir(): Promise<BuildDir>;
  cache: BuildCache;
  digests: FileDigests;
  ignore: import('../dockerfile/index.ts').IgnoreMatcher;
  contextReal: string;
  /** `--build-context` directories by (lower-case) name, each with the ignore rules of its own ignore file */
  namedDirs: Map<string, { dir: string; ignore: IgnoreMatcher }>;
  stats: BuildStats;
  reporter: BuildReporter;
  /** a read-only root of a stage (by index) or image (by ref), mounted once per build */
  stageRoot(from: string, forStage: number): Promise<{ root: string; key: Digest }>;
  /** the state key of that stage or image, without mounting its root */
  stageKey(from: string, forStage: number): Promise<Digest>;
  /**
   * With `--cache-mounts`: the cache mounts RUN steps used (id → directory), and how a newly created one is filled
   * from `--cache-from` before its first use.
   */
  cacheMounts?: { used: Map<string, string>; seed(id: string, dir: string): Promise<void> };
  /** a fresh `created` time (or the fixed timestamp) */
  now(): string;
  mtime?: Date;
}
export type { IgnoreMatcher };
