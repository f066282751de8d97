import { readFile, readdir, stat } from 'node:fs/promises';
import { join, relative, basename } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { SkiffError, type Cancellable } from '../shared/errors.ts';
import { formatReference, parseReference, normalizePull, type QualifiedReference } from '../shared/ref/reference.ts';
import { openRepository } from '../shared/registry/repository.ts';
import type { RegistryOptions } from '../shared/registry/types.ts';
import { parseCredentials } from '../shared/cli/credentials-flag.ts';

/** One image to sync: its source transport name, the registry options to read it, and its destination suffix. */
export interface SyncItem {
  source: string;
  registry: RegistryOptions;
  /** `registry/ns/repo:tag` for registry sources, the path below the base for dir: sources. */
  suffix: string;
}

/**
 * The images a `--src docker` argument names: one tagged image, or every tag of a repository (RC-15: the tag
 * list is validated by the registry client). EINVALID when the repository has no tags.
 */
export async function registrySource(arg: string, registry: RegistryOptions, o: Cancellable = {}): Promise<SyncItem[]> {
  const ref = normalizePull(parseReference(arg.replace(/^docker:\/\//, '')));
  const explicit = /[:@][^/]*$/.test(arg.replace(/^docker:\/\//, '').split('/').pop() ?? '');
  if (explicit) return [{ source: `docker://${formatReference(ref)}`, registry, suffix: formatReference(ref) }];
  return tagsOf(ref, registry, undefined, o);
}

async function tagsOf(ref: QualifiedReference, registry: RegistryOptions, filter: RegExp | undefined, o: Cancellable): Promise<SyncItem[]> {
  const tags = await openRepository(ref.registry, ref.path, registry).listTags(o);
  const chosen = tags.filter((t) => !filter || filter.test(t));
  const repo = `${ref.registry}/${ref.path}`;
  if (chosen.length === 0) throw new SkiffError('ENOTFOUND', `no images to sync found in ${repo}`);
  return chosen.map((t) => ({ source: `docker://${repo}:${t}`, registry, suffix: `${repo}:${t}` }));
}

/** The images under a `--src dir` directory: every directory holding a manifest.json (not descending into it). */
export async function dirSource(base: string): Promise<SyncItem[]> {
  const st = await stat(base).catch(() => undefined);
  if (!st?.isDirectory()) throw new SkiffError('ENOTFOUND', `invalid source directory ${base}`);
  const out: SyncItem[] = [];
  const walk = async (d: string): Promise<void> => {
    const entries = await readdir(d, { withFileTypes: true });
    if (entries.some((e) => e.isFile() && e.name === 'manifest.json')) {
      out.push({ source: `dir:${d}`, registry: {}, suffix: relative(base, d) || basename(base) });
      return;
    }
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) if (e.isDirectory()) await walk(join(d, e.name));
  };
  await walk(base);
  if (out.length === 0) throw new SkiffError('ENOTFOUND', `no images to sync found in ${base}`);
  return out;
}

interface YamlRegistry {
  images?: Record<string, string[] | null>;
  'images-by-tag-regex'?: Record<string, string>;
  credentials?: { username?: string; password?: string };
  'tls-verify'?: boolean;
  'cert-dir'?: string;
}

/**
 * The images a `--src yaml` file lists, skopeo's format: per registry `images` (repo → tags or digests; empty
 * means every tag), `images-by-tag-regex`, `credentials`, `tls-verify`, `cert-dir`. Unknown keys are errors.
 */
export async function yamlSource(file: string, base: RegistryOptions, o: Cancellable = {}): Promise<SyncItem[]> {
  let doc: unknown;
  try {
    doc = parseYaml(await readFile(file, 'utf8'));
  } catch (e) {
    throw new SkiffError('EINVALID', `failed to parse ${file}: ${(e as Error).message.split('\n')[0]}`);
  }
  if (typeof doc !== 'object' || doc === null) throw new SkiffError('EINVALID', `${file}: expected a map of registries`);
  const out: SyncItem[] = [];
  for (const [registry, raw] of Object.entries(doc as Record<string, YamlRegistry>)) {
    const cfg = raw ?? {};
    for (const k of Object.keys(cfg)) {
      if (!['images', 'images-by-tag-regex', 'credentials', 'tls-verify', 'cert-dir'].includes(k)) throw new SkiffError('EINVALID', `${file}: unknown key ${JSON.stringify(k)} for registry ${registry}`);
    }
    const opts: RegistryOptions = { ...base };
    if (cfg.credentials?.username !== undefined) opts.credentials = parseCredentials(`${cfg.credentials.username}:${cfg.credentials.password ?? ''}`);
    if (cfg['tls-verify'] !== undefined) opts.tlsVerify = cfg['tls-verify'];
    if (cfg['cert-dir'] !== undefined) opts.certDir = cfg['cert-dir'];
    for (const [repo, refs] of Object.entries(cfg.images ?? {})) {
      const ref = normalizePull(parseReference(`${registry}/${repo}`));
      if (!refs || refs.length === 0) {
        out.push(...(await tagsOf(ref, opts, undefined, o)));
        continue;
      }
      for (const r of refs) {
        const full = r.startsWith('sha256:') ? `${registry}/${repo}@${r}` : `${registry}/${repo}:${r}`;
        const q = normalizePull(parseReference(full));
        out.push({ source: `docker://${formatReference(q)}`, registry: opts, suffix: formatReference(q) });
      }
    }
    for (const [repo, regex] of Object.entries(cfg['images-by-tag-regex'] ?? {})) {
      let re: RegExp;
      try {
        re = new RegExp(regex);
      } catch (e) {
        throw new SkiffError('EINVALID', `${file}: invalid regular expression for ${repo}: ${(e as Error).message}`);
      }
      out.push(...(await tagsOf(normalizePull(parseReference(`${registry}/${repo}`)), opts, re, o)));
    }
  }
  return out;
}
