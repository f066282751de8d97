/**
 * The build executor: parse → plan → stages level by level (independent stages of one level in parallel up to
 * `jobs`) → each instruction: metadata edits add history only; RUN/COPY/ADD compute their cache key first (parent
 * key + expanded instruction + build args + source content), reuse the cached layer on a hit (nothing run, copied or
 * hashed beyond the context check), else run in a working root and store the upper dir as one layer. Then the target
 * stage is published by publish.ts (layers → config → manifest → names: BU-18; pushes, outputs, `--iidfile`). The
 * build's state dir, watchdog and the next build's reclaim make a killed build leave nothing behind (BU-17).
 */
import { mkdir, realpath } from 'node:fs/promises';
import { SkiffError, throwIfAborted } from '../../errors.ts';
import { digestHex, type Digest } from '../../oci/digest.ts';
import type { History, ImageConfig, Platform } from '../../oci/types.ts';
import { formatPlatform } from '../../image/platform.ts';
import { formatReference, localTagForm } from '../../ref/reference.ts';
import { parseImageName } from '../../ref/transport-name.ts';
import type { Runc } from '../../runtime/runc.ts';
import { DEFAULT_PATH } from '../../runtime/spec.ts';
import { openStore } from '../../store/store.ts';
import { copyCreatedBy, findStage, IgnoreMatcher, loadIgnoreFile, parseDockerfile, planBuild } from '../dockerfile/index.ts';
import { BuildCache } from '../cache/cache-store.ts';
import { FileDigests, memoFileFor } from '../cache/file-digests.ts';
import { baseKey, stepKey } from '../cache/key.ts';
import type { RemoteCache, RemoteHit, ExportStep } from '../cache/remote-cache.ts';
import type { BuildahChain } from '../cache/buildah-key.ts';
import { loadBaseImage, storedImagePlatform, StoredImages, type BaseImage } from './base-image.ts';
import { requireEmulationFor } from './emulation-check.ts';
import { loadContextImage } from './context-image.ts';
import type { NamedContext } from '../context/named-contexts.ts';
import { BuildDir, reclaimBuilds } from './build-dir.ts';
import { prepareCopy } from './copy-step.ts';
import { publishImage } from './publish.ts';
import type { StageLayer } from './layers.ts';
import { createReporter, stepText } from './report.ts';
import { runKeyDescription } from './run-key.ts';
import type { BuildCtx, BuildOptions, BuildStats, StageResult } from './types.ts';
import type { WorkingRoot } from './working-root.ts';
import { ConfigSizeMeter } from './config-size.ts';
import { checkDocumentSize } from '../../oci/document-size.ts';
import { checkWorkdir } from '../../runtime/spec.ts';

export type { BuildOptions, BuildStats } from './types.ts';

/** What a build produced. */
export interface BuildResult {
  /** the image ID (config digest) */
  id: Digest;
  descriptor: { mediaType: string; digest: Digest; size: number };
  /** local names given (full form) and other destinations written */
  names: string[];
  stats: BuildStats;
}

/** The runc handle builds use: containers.conf's runtime (ociRuntime; runc by default) with skiff's runc root (a private dir). */
export async function buildRunc(o: { runc?: string; runcRoot?: string } = {}): Promise<Runc> {
  const [{ ensurePrivateDir, Runc, runcRootFor }, { ociRuntime }] = await Promise.all([import('../../runtime/runc.ts'), import('../../runtime/oci-runtime.ts')]);
  const root = o.runcRoot ?? runcRootFor();
  await ensurePrivateDir(root);
  return new Runc(o.runc ?? ociRuntime().path, root);
}

/**
 * A cached layer vanished (gc) between the cache lookup and its claim, or a remote cache entry's layer did not
 * verify when fetched; its cache entries are already dropped (or ignored from then on).
 */
class StaleCacheError extends Error {
  constructor(
    readonly digests: Digest[],
    readonly remote = false,
  ) {
    super(`${remote ? 'remote cache entries did not verify' : 'cached layers removed while the build ran'}: ${digests.join(', ')}`);
  }
}

/**
 * Builds an image from a Dockerfile; see the module comment. Throws SkiffError naming the failing step. When gc
 * removed a cached layer during the build, or a remote cache entry turned out not to verify, runs the build again
 * (those steps are then rebuilt): once for gc, and once more per remote entry found bad (each is ignored from then
 * on, so this ends).
 */
export async function buildImage(opts: BuildOptions): Promise<BuildResult> {
  const reporter = opts.reporter ?? createReporter('plain');
  const remoteOn = opts.cache !== undefined && opts.cache.from.length > 0 && opts.layers !== false && !opts.noCache;
  const remote = remoteOn ? await (await import('../cache/remote-cache.ts')).openRemoteCache(opts.cache!, opts.registry ?? {}, (m) => reporter.warn(m)) : undefined;
  // named contexts are fetched and ssh key files loaded once per build (not per attempt); removed in any case
  const named = opts.buildContexts?.size
    ? await (await import('../context/named-contexts.ts')).resolveNamedContexts(opts.buildContexts, { maxBytes: opts.contextMaxBytes, signal: opts.signal, onWarning: (m) => reporter.warn(m) })
    : undefined;
  let ssh: import('../context/ssh-sources.ts').SshSources | undefined;
  try {
    if (opts.ssh?.size) {
      const specs = new Map([...opts.ssh].map(([id, p]) => [id, typeof p === 'string' ? [p] : [...p]]));
      ssh = await (await import('../context/ssh-sources.ts')).openSshSources(specs, { signal: opts.signal });
    }
    const o: BuildOptions = { ...opts, reporter, ...(ssh && { ssh: ssh.sockets }) };
    for (let attempt = 0, remoteRetries = 0; ; attempt++) {
      try {
        return await buildOnce(o, remote, named?.contexts ?? new Map());
      } catch (e) {
        if (!(e instanceof StaleCacheError)) throw e;
        const fromRemote = e.remote;
        if (fromRemote ? ++remoteRetries > 64 : attempt - remoteRetries >= 1) throw e;
        reporter.warn(`${e.message}; building again`);
      }
    }
  } finally {
    await ssh?.dispose();
    await named?.dispose();
  }
}

async function buildOnce(opts: BuildOptions, remote: RemoteCache | undefined, named: ReadonlyMap<string, NamedContext>): Promise<BuildResult> {
  const reporter = opts.reporter ?? createReporter('plain');
  const stop = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, stop.signal]) : stop.signal;
  const o: BuildOptions = { ...opts, signal };
  const so = { signal };
  // every -t is checked before anything is parsed, pulled or run (buildah refuses a bad tag before STEP 1)
  const tags = checkTags(o.tags ?? []);
  const df = parseDockerfile(o.dockerfile.text, { filename: o.dockerfile.path ?? 'Dockerfile' });
  for (const n of df.notices) reporter.warn(n);
  const plan = planBuild(df, { target: o.target, buildArgs: o.buildArgs ?? {}, platform: o.platform, namedContexts: new Set(named.keys()) });
  const contextReal = await realpath(o.contextDir).catch(() => {
    throw new SkiffError('ENOTFOUND', `context directory ${o.contextDir} does not exist`);
  });
  const store = await openStore(o.storeRoot, { create: true, write: true, ...so });
  // each stored base image is looked up and read once per build (the RUN platform checks, every FROM, --from images)
  const storedImages = new StoredImages(store);
  try {
    // a RUN for a platform this machine cannot run (no emulator) fails here, before anything is pulled, run or stored
    await requireEmulationFor(plan, (ref, want) => storedImagePlatform(store, ref, want, { ...so, images: storedImages }));
  } catch (e) {
    await store.close();
    throw e;
  }
  // the runtime (containers.conf read, runc's root made) only when a RUN runs or a killed build's state is reclaimed
  let runcPromise: Promise<Runc> | undefined;
  const runc = (): Promise<Runc> => (runcPromise ??= buildRunc(o));
  await reclaimBuilds(store.paths.root, runc);
  // the build's state dir (lock, watchdog) is made when a step first needs it: a fully cached build never does
  let bdPromise: Promise<BuildDir> | undefined;
  const buildDir = (): Promise<BuildDir> => (bdPromise ??= runc().then((r) => BuildDir.create(store.paths.root, r)));
  const fixed = o.timestamp !== undefined ? new Date(o.timestamp * 1000) : undefined;
  const stats: BuildStats = { runs: 0, copies: 0, cacheHits: 0, layers: 0, filesHashed: 0 };
  const useCache = o.layers !== false && !o.noCache;
  const record = o.layers !== false;
  try {
    const ign = await loadIgnoreFile(contextReal, { dockerfile: o.dockerfile.path, ignorefile: o.ignorefile, ...so });
    for (const s of ign.skipped) reporter.warn(`ignore file ${s} points outside the context and was not read`);
    const digests = await FileDigests.load(memoFileFor(store.paths.cache, contextReal));
    if (o.contextTransient) digests.transient(contextReal);
    // each local directory context is read like the main one: its own .containerignore/.dockerignore applies
    const namedDirs = new Map<string, { dir: string; ignore: IgnoreMatcher }>();
    for (const [name, c] of named) {
      if (c.kind !== 'dir') continue;
      if (c.transient) digests.transient(c.dir);
      // as BuildKit: an ignore file applies to a local directory, not to a fetched git or tarball context
      const ni = c.transient ? { patterns: [], skipped: [] } : await loadIgnoreFile(c.dir, so);
      for (const sk of ni.skipped) reporter.warn(`ignore file ${sk} points outside build context ${name} and was not read`);
      namedDirs.set(name, { dir: c.dir, ignore: new IgnoreMatcher(ni.patterns) });
    }
    const cache = new BuildCache(store.paths.cache);
    const results = new Map<number, Promise<StageResult>>();
    const roots = new Map<string, Promise<string>>();
    const images = new Map<string, Promise<{ layers: StageLayer[]; key: Digest }>>();
    const rootOf = (layers: StageLayer[]): Promise<string> => {
      const k = layers.map((l) => l.diffId).join(',');
      let p = roots.get(k);
      if (p === undefined) {
        p = (async () => {
          await claimHits(layers);
          const [{ lowersOf }, { mountOverlay }] = await Promise.all([import('./layers.ts'), import('../../layer/unpack-cache.ts')]);
          const lowers = await lowersOf(store, layers, so);
          if (lowers.length === 1) return lowers[0]!;
          const target = (await buildDir()).path('m');
          await mkdir(target, { recursive: true, mode: 0o700 });
          if (lowers.length === 0) return target;
          await mountOverlay({ lowers, target, ...so });
          return target;
        })();
        roots.set(k, p);
      }
      return p;
    };
    const ctx: BuildCtx = {
      o,
      store,
      buildDir,
      cache,
      digests,
      ignore: new IgnoreMatcher(ign.patterns),
      contextReal,
      namedDirs,
      stats,
      reporter,
      now: () => (fixed ?? new Date()).toISOString(),
      mtime: fixed,
      ...(o.cache?.mounts && {
        cacheMounts: {
          used: new Map<string, string>(),
          async seed(id: string, dir: string) {
            if (remote === undefined) return;
            const { importMount } = await import('../cache/cache-mounts.ts');
            await importMount(remote.sources, id, dir, store, (m) => reporter.warn(m), so);
          },
        },
      }),
      async stageRoot(from, forStage) {
        const nd = namedDirs.get(from.toLowerCase());
        if (nd !== undefined) return { root: nd.dir, key: await namedDirKey(from.toLowerCase()) };
        const r = await stageOrImage(from, forStage);
        return { root: await rootOf(r.layers), key: r.key };
      },
      async stageKey(from, forStage) {
        if (namedDirs.has(from.toLowerCase())) return namedDirKey(from.toLowerCase());
        return (await stageOrImage(from, forStage)).key;
      },
    };
    /** A directory context's state key: its selection's content (memoised per build). */
    const dirKeys = new Map<string, Promise<Digest>>();
    const namedDirKey = (name: string): Promise<Digest> => {
      let p = dirKeys.get(name);
      if (p === undefined) {
        p = (async () => {
          const { prepareContextRoot } = await import('./copy-step.ts');
          const nd = namedDirs.get(name)!;
          const r = await prepareContextRoot(ctx, nd.dir, nd.ignore);
          return baseKey({ kind: 'context', digest: r.digest }, formatPlatform(plan.targetPlatform));
        })();
        dirKeys.set(name, p);
      }
      return p;
    };
    /** The base image of a named image context (docker-image:// or oci-layout://), loaded once per build. */
    const contextImage = (name: string, platform: Platform): Promise<BaseImage> =>
      loadContextImage(store, name, named.get(name)!, platform, o, { onInfo: (m) => reporter.info(m), onWarning: (m) => reporter.warn(m) });
    /** The layers and state key of an earlier stage, or of an image (loaded once per build). */
    const stageOrImage = async (from: string, forStage: number): Promise<{ layers: StageLayer[]; key: Digest }> => {
      const s = named.has(from.toLowerCase()) ? undefined : findStage(df.stages, from);
      if (s !== undefined && s.index < forStage) {
        const r = await results.get(s.index);
        if (r === undefined) throw new SkiffError('EINVALID', `stage ${from} was not built`);
        return r;
      }
      let img = images.get(from);
      if (img === undefined && named.has(from.toLowerCase())) {
        img = contextImage(from.toLowerCase(), plan.targetPlatform).then((b) => ({ layers: b.layers, key: baseKey({ kind: 'image', manifest: b.manifestDigest }, formatPlatform(plan.targetPlatform)) }));
        images.set(from, img);
      }
      if (img === undefined) {
        img = loadBaseImage(store, from, plan.targetPlatform, { pull: o.pull ?? 'missing', registry: o.registry, trustPolicy: o.trustPolicy, images: storedImages, ...so, onInfo: (m) => reporter.info(m), onWarning: (m) => reporter.warn(m) }).then((b) => ({
          layers: b.layers,
          key: baseKey({ kind: 'image', manifest: b.manifestDigest }, formatPlatform(plan.targetPlatform)),
        }));
        images.set(from, img);
      }
      return img;
    };

    /** Every step's key and result, for --cache-to (meta steps too: their history times keep the image ID). */
    const exported: ExportStep[] = [];
    /** A remote hit found another way when skiff's own key misses (buildah's entries: runStage's `alt`). */
    type AltLookup = () => Promise<RemoteHit | undefined>;
    const createdFor = async (key: Digest, stage: number, alt?: AltLookup): Promise<string> => {
      if (fixed) return fixed.toISOString();
      if (useCache) {
        const hit = await cache.get(key);
        if (hit) {
          exported.push({ key, entry: { created: hit.created }, stage });
          return hit.created;
        }
        const r = remote && ((await remote.lookup(key, so)) ?? (await alt?.()));
        if (r && r.entry.layer === undefined) {
          if (record) await cache.put(key, r.entry);
          exported.push({ key, entry: r.entry, stage });
          return r.entry.created;
        }
      }
      const created = ctx.now();
      if (record) await cache.put(key, { created });
      exported.push({ key, entry: { created }, stage });
      return created;
    };

    /** Layers of cache hits not yet claimed: digest → size, the step key that named it, the remote entry if any. */
    const unclaimed = new Map<Digest, { size: number; key: Digest; remote?: RemoteHit }>();
    /**
     * Claims the unclaimed hit layers under one shared gc lock (leased, then checked present): every local one, and
     * those of remote hits that `needed` lists (all when absent), fetched first (verified; recorded in the local
     * cache). A remote layer not needed stays unfetched: a fresh runner downloads only what the build reads or the
     * image holds. A layer gc removed since its hit was seen drops that cache entry, a remote one that does not
     * verify is ignored from then on; either fails with StaleCacheError, so buildImage runs the build again,
     * rebuilding that step. Call before any hit layer is read (unpacked, mounted, exported or committed).
     */
    const claimHits = async (needed?: readonly StageLayer[]): Promise<void> => {
      if (unclaimed.size === 0) return;
      const want = needed && new Set(needed.map((l) => l.descriptor.digest));
      const list = [...unclaimed].filter(([d, v]) => v.remote === undefined || want === undefined || want.has(d));
      for (const [d] of list) unclaimed.delete(d);
      const bad: Digest[] = [];
      await Promise.all(
        list.map(async ([d, v]) => {
          if (v.remote === undefined || (await store.blobs.has(d, v.size, so))) return;
          if (await remote!.fetchLayer(v.remote, store, so)) {
            if (record) await cache.put(v.key, v.remote.entry);
          } else bad.push(d);
        }),
      );
      if (bad.length) throw new StaleCacheError(bad, true);
      const present = await store.protect(list.map(([d]) => d), () => Promise.all(list.map(([d, v]) => store.blobs.has(d, v.size, so))), so);
      const gone = list.filter((_, i) => !present[i]);
      if (gone.length === 0) return;
      for (const [, v] of gone) await cache.delete(v.key);
      throw new StaleCacheError(gone.map(([d]) => d));
    };

    /**
     * One RUN/COPY/ADD-like step with cache key `stepKey` over `below`: a cache hit whose layer is still in the store
     * is reused (nothing runs); else a working root over `below` gets `workdirs` made (each owned by its USER), then
     * `work` runs, and the root's changes become the step's layer (none when nothing changed). Records the result.
     */
    const layerStep = async (stage: number, stepKey: Digest, below: StageLayer[], workdirs: { path: string; user: string }[], work?: (wr: WorkingRoot) => Promise<void>, alt?: AltLookup): Promise<{ layer?: StageLayer; created: string; cached: boolean }> => {
      let hit = useCache ? await cache.get(stepKey) : undefined;
      // a hit's layer is checked without a lock here and claimed (leased under the gc lock) with the build's other
      // hits in one go before anything reads it (claimHits): one lock round trip per build, not one per step
      let local = hit !== undefined && (hit.layer === undefined || (await store.blobs.has(hit.layer.digest, hit.layer.size, so)));
      // not here: a remote entry (--cache-from) is a hit too; its layer is fetched only when claimed as needed
      const rhit = !local && useCache && remote ? ((await remote.lookup(stepKey, so)) ?? (await alt?.())) : undefined;
      if (rhit) {
        hit = rhit.entry;
        local = hit.layer === undefined || (await store.blobs.has(hit.layer.digest, hit.layer.size, so));
        if (local && record) await cache.put(stepKey, hit);
      }
      if (hit && (local || rhit)) {
        if (hit.layer) unclaimed.set(hit.layer.digest, { size: hit.layer.size, key: stepKey, ...(!local && rhit && { remote: rhit }) });
        exported.push({ key: stepKey, entry: hit, stage });
        reporter.cacheHit(digestHex(stepKey).slice(0, 12));
        stats.cacheHits++;
        const created = fixed ? fixed.toISOString() : hit.created;
        const layer: StageLayer | undefined = hit.layer && { descriptor: { mediaType: hit.layer.mediaType, digest: hit.layer.digest, size: hit.layer.size }, diffId: hit.layer.diffId };
        return { layer, created, cached: true };
      }
      await claimHits(below);
      const { WorkingRoot, lowersOf, RootWriter, resolveUser } = await missCode();
      const wr = await WorkingRoot.open(await buildDir(), await lowersOf(store, below, { ...so, onWarning: (m) => reporter.warn(m) }), so);
      let layer: StageLayer | undefined;
      try {
        for (const d of workdirs) {
          const u = await resolveUser(wr.rootfs, d.user || undefined);
          await new RootWriter(wr.rootfs).dir(d.path, { uid: u.uid, gid: u.gid });
        }
        if (work) await work(wr);
        layer = await wr.commitLayer(store, { mtime: fixed, ...so, onWarning: (m) => reporter.warn(m) });
      } finally {
        await wr.close();
      }
      const created = ctx.now();
      if (layer) stats.layers++;
      const entry = { created, ...(layer && { layer: { mediaType: layer.descriptor.mediaType, digest: layer.descriptor.digest, size: layer.descriptor.size, diffId: layer.diffId } }) };
      if (record) await cache.put(stepKey, entry);
      exported.push({ key: stepKey, entry, stage: stage });
      return { layer, created, cached: false };
    };

    /** The target stage and the stages it is built FROM: their configs become the image's config. */
    const written = new Set<number>();
    for (let i: number | undefined = plan.target; i !== undefined && !written.has(i); ) {
      written.add(i);
      const base = plan.stages.find((s) => s.index === i)?.base;
      i = base?.kind === 'stage' ? base.index : undefined;
    }

    const runStage = async (idx: number): Promise<StageResult> => {
      const ps = plan.stages.find((s) => s.index === idx)!;
      const sinfo = { index: plan.stages.indexOf(ps), count: plan.stages.length, name: ps.name };
      const pf = formatPlatform(ps.platform);
      let config: ImageConfig;
      let layers: StageLayer[];
      let key: Digest;
      // buildah's cache keys (reading what buildah --cache-to wrote) follow from the stage's base image while every
      // step so far came from buildah's entries; any other step ends the chain (buildah-key.ts)
      let bchain: BuildahChain | undefined;
      if (ps.base.kind === 'scratch') {
        config = { architecture: ps.platform.architecture, os: ps.platform.os, ...(ps.platform.variant && { variant: ps.platform.variant }), config: {}, rootfs: { type: 'layers', diff_ids: [] }, history: [] };
        layers = [];
        key = baseKey({ kind: 'scratch' }, pf);
        bchain = { diffIds: [], history: [], manifestType: '' };
      } else if (ps.base.kind === 'stage') {
        const r = await results.get(ps.base.index)!;
        config = structuredClone(r.config);
        layers = [...r.layers];
        key = baseKey({ kind: 'stage', key: r.key }, pf);
      } else if (ps.base.kind === 'context' && namedDirs.has(ps.base.name)) {
        // FROM a directory context: the directory is the stage's root filesystem (one layer), as in BuildKit
        config = { architecture: ps.platform.architecture, os: ps.platform.os, ...(ps.platform.variant && { variant: ps.platform.variant }), config: {}, rootfs: { type: 'layers', diff_ids: [] }, history: [] };
        const { prepareContextRoot } = await import('./copy-step.ts');
        const nd = namedDirs.get(ps.base.name)!;
        const pr = await prepareContextRoot(ctx, nd.dir, nd.ignore);
        key = baseKey({ kind: 'context', digest: pr.digest }, pf);
        const r = await layerStep(idx, key, [], [], (wr) => pr.apply(wr.rootfs));
        layers = r.layer ? [r.layer] : [];
        config.rootfs.diff_ids = layers.map((l) => l.diffId);
        config.history = [{ created: r.created, created_by: `FROM ${ps.base.name} (build context)`, ...(r.layer === undefined && { empty_layer: true }) }];
      } else {
        const b = ps.base.kind === 'context'
          ? await contextImage(ps.base.name, ps.platform)
          : await loadBaseImage(store, ps.base.ref, ps.platform, { pull: o.pull ?? 'missing', registry: o.registry, trustPolicy: o.trustPolicy, images: storedImages, ...so, onInfo: (m) => reporter.info(m), onWarning: (m) => reporter.warn(m) });
        config = b.config;
        layers = [...b.layers];
        key = baseKey({ kind: 'image', manifest: b.manifestDigest }, pf);
        bchain = { diffIds: b.config.rootfs?.diff_ids ?? [], history: b.config.history ?? [], manifestType: b.manifestMediaType };
      }
      // Like BuildKit and buildah: a stage whose base sets no PATH gets the default one in its config, first in Env
      config = withDefaultPath(config);
      const history: History[] = [...(config.history ?? [])];
      const baseLayerCount = layers.length;
      const baseHistoryCount = history.length;
      const scope = plan.beginStage(idx, config);
      const total = scope.instructions.length + 1;
      reporter.step(sinfo, 1, total, stepText('FROM', ps.stage.from.text));
      let n = 1;
      // Directories WORKDIR named, each with the USER current at that WORKDIR, not yet made: BuildKit makes them at
      // the WORKDIR (owned by that USER); WORKDIR adds no layer here, so the next RUN/COPY/ADD makes them, in order.
      let pendingDirs: { path: string; user: string }[] = [];
      let pendingHistory = -1;
      // a stage whose config becomes the image's (the target and the stages it is FROM) fails at the instruction
      // whose config crosses the document limit
      const meter = written.has(idx) ? new ConfigSizeMeter() : undefined;
      const checkSize = (ins: { kind: string; text: string; loc: { line: number } }): void => {
        if (meter === undefined) return;
        const size = meter.measure(scope.config, layers.map((l) => l.diffId), history);
        checkDocumentSize(size, `building at STEP "${stepText(ins.kind, ins.text)}" (line ${ins.loc.line}): the image config`, {
          hint: 'image readers (skiff, podman, skopeo) refuse configs this large: use fewer or shorter ENV, LABEL and other instructions',
        });
      };
      for (const ins of scope.instructions) {
        throwIfAborted(signal);
        const t0 = performance.now();
        reporter.step(sinfo, ++n, total, stepText(ins.kind, ins.text));
        const step = scope.step(ins);
        const cc = scope.config.config ?? {};
        if (step.run === undefined && step.copy === undefined) {
          key = stepKey(key, ['meta', step.createdBy, step.edit ?? null, step.buildArgs]);
          if (ins.kind === 'WORKDIR' && cc.WorkingDir) {
            pendingDirs.push({ path: checkWorkdir(cc.WorkingDir), user: cc.User ?? '' });
            pendingHistory = history.length;
          }
          const alt = buildahAlt(bchain, key, false, step.createdBy);
          bchain = undefined;
          history.push({ created: await createdFor(key, idx, alt.lookup), created_by: step.createdBy, empty_layer: true });
          bchain = alt.next();
          checkSize(ins);
          continue;
        }
        const prepared = step.copy ? await prepareCopy(ctx, step, idx) : undefined;
        const desc = step.run ? await runKeyDescription(ctx, step, idx) : prepared!.description;
        const workdirs = pendingDirs;
        pendingDirs = [];
        key = stepKey(key, [ins.kind, desc, step.buildArgs, cc.User ?? '', cc.WorkingDir ?? '', cc.Shell ?? null, ...(workdirs.length ? [['workdirs', workdirs]] : [])]);
        const createdBy = step.run ? step.createdBy : copyCreatedBy(ins.kind as 'COPY' | 'ADD', prepared!.summary, step.copy!.dest.path);
        const alt = step.run ? buildahAlt(bchain, key, true, createdBy) : { lookup: undefined, next: () => undefined };
        bchain = undefined;
        const r = await layerStep(idx, key, layers, workdirs, async (wr) => {
          if (step.run) await (await import('./run-step.ts')).executeRun(ctx, step, idx, wr, cc, ps.platform);
          else {
            if (cc.WorkingDir) {
              const { RootWriter, resolveUser } = await missCode();
              const u = await resolveUser(wr.rootfs, cc.User);
              await new RootWriter(wr.rootfs).dir(checkWorkdir(cc.WorkingDir), { uid: u.uid, gid: u.gid });
            }
            await prepared!.apply(wr.rootfs);
          }
        }, alt.lookup);
        bchain = alt.next();
        if (r.layer) {
          layers.push(r.layer);
          history.push({ created: r.created, created_by: createdBy });
        } else history.push({ created: r.created, created_by: createdBy, empty_layer: true });
        checkSize(ins);
        if (!r.cached) reporter.stepDone((performance.now() - t0) / 1000);
      }
      if (pendingDirs.length) {
        // WORKDIRs no later RUN/COPY/ADD of the stage made (e.g. the stage's last filesystem instruction): BuildKit
        // has them in the image, so they become one layer here, recorded on the last such WORKDIR's history entry.
        // (buildah 1.28 with --layers leaves them out; without --layers it makes them too.)
        key = stepKey(key, ['workdirs', pendingDirs]);
        const r = await layerStep(idx, key, layers, pendingDirs);
        if (r.layer) {
          layers.push(r.layer);
          delete history[pendingHistory]!.empty_layer;
        }
      }
      const final: ImageConfig = { ...scope.config, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) }, history };
      return { index: idx, config: final, layers, history, key, baseLayerCount, baseHistoryCount };
    };

    /**
     * The buildah-entry lookup for one step over `chain` (none when the chain is broken or nothing is looked up
     * remotely) and, after the step, the chain it continues — set only when the step's result came from it.
     */
    const buildahAlt = (chain: BuildahChain | undefined, key: Digest, addsLayer: boolean, createdBy: string): { lookup: AltLookup | undefined; next: () => BuildahChain | undefined } => {
      if (chain === undefined || remote === undefined) return { lookup: undefined, next: () => undefined };
      let next: BuildahChain | undefined;
      return {
        lookup: async () => {
          const r = await remote.lookupBuildah(key, chain, addsLayer, createdBy, so);
          next = r?.chain;
          return r?.hit;
        },
        next: () => next,
      };
    };

    const jobs = Math.max(1, o.jobs ?? 1);
    for (const level of plan.levels) {
      const queue = [...level];
      const workers = Array.from({ length: Math.min(jobs, queue.length) }, async () => {
        for (let idx = queue.shift(); idx !== undefined; idx = queue.shift()) {
          const p = runStage(idx);
          results.set(idx, p);
          try {
            await p;
          } catch (e) {
            stop.abort(e);
            throw e;
          }
        }
      });
      const settled = await Promise.allSettled(workers);
      const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      if (failed) throw failed.reason;
    }
    let target = await results.get(plan.target)!;
    // the target's hit layers are claimed when something reads or references them anew (squash, the image's
    // documents, --cache-to); not when the image is already named as built (publishImage)
    if (o.squash && target.layers.length > target.baseLayerCount) {
      await claimHits(target.layers);
      target = await squash(ctx, target);
    }
    // buildah's own wording (the unconsumed build-args line) is printed as buildah prints it, on stderr
    for (const w of plan.finish()) (w.startsWith('[Warning] ') ? reporter.peerWarning(w) : reporter.warn(w));
    const created = fixed?.toISOString() ?? target.history.at(-1)?.created ?? ctx.now();
    const { id, descriptor, names } = await publishImage(o, { store, target, tags, created, fixed, exportDir: async () => (await buildDir()).path('export'), claim: () => claimHits(target.layers), signal });
    if (o.cache?.to.length && !record) reporter.warn('--cache-to is ignored with --layers=false: no step is recorded');
    if (o.cache?.to.length && record) {
      await claimHits(target.layers);
      await (await import('./cache-export.ts')).exportBuildCache(o, { store, steps: exported, imageStages: written, remoteTags: tags.remote, mounts: ctx.cacheMounts?.used ?? new Map(), warn: (m) => reporter.warn(m), ...so });
    }
    stats.filesHashed = digests.hashed;
    await digests.save();
    return { id, descriptor, names, stats };
  } finally {
    await bdPromise?.then((b) => b.close()).catch(() => {});
    await store.close();
  }
}

/**
 * Validates every `-t` value: plain and `store:` names become the local names to commit (full form), other
 * transport-qualified names (`docker://…`, `oci:…`, …) are destinations written after the build. Pure; throws
 * EINVALID naming the first bad tag (one line).
 */
export function checkTags(tags: readonly string[]): { local: string[]; remote: string[] } {
  const local: string[] = [];
  const remote: string[] = [];
  for (const t of tags) {
    let n: ReturnType<typeof parseImageName>;
    try {
      n = parseImageName(t);
    } catch (e) {
      const plain = !/^(docker:\/\/|oci:|oci-archive:|docker-archive:|dir:|store:)/u.test(t);
      throw new SkiffError('EINVALID', `invalid -t/--tag value: ${e instanceof Error ? e.message : String(e)}`, {
        hint: plain ? 'name images as [REGISTRY/]REPOSITORY[:TAG] in lowercase, e.g. localhost/app:1.0' : 'write TRANSPORT:DESTINATION, e.g. docker://127.0.0.1:5000/app:1.0 or oci:DIR:app',
      });
    }
    if (n.transport === 'plain' || n.transport === 'store') {
      if (n.ref === undefined) throw new SkiffError('EINVALID', `invalid -t/--tag value ${JSON.stringify(t)}: an image ID cannot be a tag`, { hint: 'name images as [REGISTRY/]REPOSITORY[:TAG]' });
      local.push(formatReference(localTagForm(n.ref)));
    } else remote.push(t);
  }
  return { local, remote };
}

/** `--squash`: the stage's new layers become one layer on top of the base layers; history keeps every entry. */
async function squash(ctx: BuildCtx, r: StageResult): Promise<StageResult> {
  const so = { signal: ctx.o.signal };
  const base = r.layers.slice(0, r.baseLayerCount);
  const [{ WorkingRoot, lowersOf }, { decompress }, { applyLayer }] = await Promise.all([missCode(), import('../../layer/compression.ts'), import('../../layer/apply.ts')]);
  const wr = await WorkingRoot.open(await ctx.buildDir(), await lowersOf(ctx.store, base, so), so);
  let layer: StageLayer | undefined;
  try {
    for (const l of r.layers.slice(r.baseLayerCount)) {
      const { stream } = await decompress(await ctx.store.blobs.open(l.descriptor, so), so);
      await applyLayer(wr.rootfs, stream, { mode: 'merged', ...so });
    }
    layer = await wr.commitLayer(ctx.store, { mtime: ctx.mtime, ...so });
  } finally {
    await wr.close();
  }
  const history = r.history.map((h, i) => (i < r.baseHistoryCount ? h : { ...h, empty_layer: true }));
  if (layer) delete history[history.length - 1]!.empty_layer;
  const layers = layer ? [...base, layer] : base;
  return { ...r, layers, history, config: { ...r.config, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) }, history } };
}

/**
 * The code only a step that misses the cache runs (a working root over the layers below, its directories made as
 * the step's user): imported on the first miss, so a fully cached build loads no layer apply, tar or runc code.
 */
async function missCode() {
  const [{ WorkingRoot }, { lowersOf }, { RootWriter }, { resolveUser }] = await Promise.all([
    import('./working-root.ts'),
    import('./layers.ts'),
    import('./root-writer.ts'),
    import('../../runtime/user.ts'),
  ]);
  return { WorkingRoot, lowersOf, RootWriter, resolveUser };
}

/** `config` with `PATH=<the default>` first in Env when Env has no PATH (idempotent; returns a copy when changed). */
function withDefaultPath(config: ImageConfig): ImageConfig {
  const env = config.config?.Env ?? [];
  if (env.some((e) => e.startsWith('PATH='))) return config;
  return { ...config, config: { ...config.config, Env: [`PATH=${DEFAULT_PATH}`, ...env] } };
}
