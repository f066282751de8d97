import type { Command } from 'commander';
import { openStore } from '../store/store.ts';
import { listImages, repoDigests, type ImageSummary } from '../store/list-images.ts';
import { parseReference } from '../ref/reference.ts';
import { formatReport, goType, tableHeaders } from './go-template.ts';
import { humanSize, timeAgo } from './human.ts';
import { addRootOption, storeRootOf } from './program.ts';
import { formatTable } from './table.ts';
import { isSkiffError } from '../errors.ts';
import { collect } from './flags.ts';
import { checkImageSort, filterImages, IMAGE_SORT_KEYS, parseImageFilters } from './image-filters.ts';
import { parseInputTime } from '../time/input-time.ts';
import { LayerSizes, layerSizesDir } from '../store/layer-sizes.ts';
import { listLeases, type LeasePaths } from '../store/lease.ts';

/** podman 4.3's `images --format 'table …'` column headers, by template field (others print `<no value>`, as podman's). */
const IMAGES_HEADERS: Record<string, string> = {
  Repository: 'REPOSITORY', Tag: 'TAG', ID: 'IMAGE ID', Digest: 'DIGEST', Created: 'CREATED', Size: 'SIZE', VirtualSize: 'VIRTUAL SIZE',
  SharedSize: 'SHARED SIZE', Containers: 'CONTAINERS', ReadOnly: 'R/O', Labels: 'LABELS', Names: 'NAMES', History: 'HISTORY', Dangling: 'DANGLING',
};

/** One `images` row per name (or one `<none>` row), with podman's template field names. */
interface ImageRow {
  Repository: string;
  Tag: string;
  ID: string;
  Id: string;
  Digest: string;
  Created: string;
  CreatedAt: string;
  CreatedSince: string;
  Size: string;
  VirtualSize: number;
  Containers: number;
  Names: string[];
  Labels: Record<string, string>;
  Dangling: boolean;
}

function rowsOf(img: ImageSummary, noTrunc: boolean, containers: number): ImageRow[] {
  const idHex = img.id.slice(7);
  const created = img.created;
  const common = {
    ID: noTrunc ? img.id : idHex.slice(0, 12),
    Id: idHex,
    Digest: img.digest,
    Created: created ? timeAgo(created) : '',
    CreatedSince: created ? timeAgo(created) : '',
    CreatedAt: created ? created.toISOString() : '',
    Size: humanSize(img.size),
    VirtualSize: img.size,
    Containers: containers,
    Names: img.names,
    Labels: img.labels,
    Dangling: img.dangling,
  };
  if (img.names.length === 0) return [{ Repository: '<none>', Tag: '<none>', ...common }];
  return img.names.map((n) => {
    const r = parseReference(n);
    return { Repository: `${r.registry ? `${r.registry}/` : ''}${r.path}`, Tag: r.tag ?? '<none>', ...common };
  });
}

/** Rows in podman's `--sort` order: created newest first (stable), the others ascending. Pure. */
function sortRows(rows: ImageRow[], key: (typeof IMAGE_SORT_KEYS)[number]): ImageRow[] {
  const by = (f: (r: ImageRow) => string | number) => (a: ImageRow, b: ImageRow): number => {
    const x = f(a);
    const y = f(b);
    return x < y ? -1 : x > y ? 1 : 0;
  };
  switch (key) {
    case 'id': return [...rows].sort(by((r) => r.Id));
    case 'repository': return [...rows].sort(by((r) => r.Repository));
    case 'size': return [...rows].sort(by((r) => r.VirtualSize));
    case 'tag': return [...rows].sort(by((r) => r.Tag));
    default: return [...rows].sort(by((r) => -(Date.parse(r.CreatedAt) || 0)));
  }
}

/** podman's `images --format json` element. */
function jsonOf(img: ImageSummary, containers: number): Record<string, unknown> {
  return {
    Id: img.id.slice(7),
    ParentId: '',
    RepoTags: img.names,
    RepoDigests: repoDigests(img.names, img.digest),
    Size: img.size,
    SharedSize: 0,
    VirtualSize: img.size,
    Labels: img.labels,
    Containers: containers,
    Names: img.names,
    Digest: img.digest,
    // podman omits Dangling when false; History is the names the image has had (here: has)
    ...(img.dangling && { Dangling: true }),
    History: img.names,
    Created: img.created ? Math.floor(img.created.getTime() / 1000) : 0,
    CreatedAt: img.created?.toISOString() ?? '',
  };
}

/**
 * How many containers use each image (by image ID): a container holds a persistent store lease named
 * `container-<id>` on its image's blobs, config included, for as long as it exists (RU-14).
 */
async function containersByImage(paths: LeasePaths): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const l of await listLeases(paths)) {
    if (!l.persistent || !l.id.startsWith('container-')) continue;
    for (const d of new Set(l.digests)) out.set(d, (out.get(d) ?? 0) + 1);
  }
  return out;
}

/**
 * Adds `images` (podman's listing: REPOSITORY TAG IMAGE ID CREATED SIZE; `-q`, `--no-trunc`, `-a`,
 * `--format json|TEMPLATE`, `--noheading`) to a tool. Output goes to stdout only; an absent store lists nothing.
 */
export function addImagesCommand(program: Command): void {
  const cmd = program
    .command('images')
    .description('list images in the local store')
    .option('-a, --all', 'show all images (accepted for podman compatibility: every image is listed)')
    .option('-q, --quiet', 'print only image IDs')
    .option('--no-trunc', 'do not truncate image IDs')
    .option('-n, --noheading', 'do not print the column headings')
    .option('--format <format>', "'json' or a Go template, e.g. '{{.Repository}}:{{.Tag}}'")
    .option('-f, --filter <filter>', 'filter output based on conditions provided (before, since, dangling, label, reference, id, until)', collect, [] as string[])
    .option('--sort <field>', `sort by ${IMAGE_SORT_KEYS.join(', ')}`, 'created')
    .option('--digests', 'show digests');
  addRootOption(cmd).action(async (opts: { quiet?: boolean; trunc: boolean; noheading?: boolean; format?: string; filter: string[]; sort: string; digests?: boolean }) => {
    const filters = parseImageFilters(opts.filter);
    const sortKey = checkImageSort(opts.sort);
    for (const f of filters) if (f.key === 'until') parseInputTime(f.value, 'until filter');
    let images: ImageSummary[] = [];
    let users = new Map<string, number>();
    try {
      const store = await openStore(storeRootOf(cmd));
      try {
        images = await listImages(store.layout, { sizes: new LayerSizes(layerSizesDir(store.paths.cache), store.layout.blobs) });
        users = await containersByImage(store.paths);
      } finally {
        await store.close();
      }
    } catch (e) {
      if (!isSkiffError(e, 'ENOTFOUND')) throw e;
    }
    images = filterImages(images, filters, (s) => parseInputTime(s, 'until filter'));
    const noTrunc = opts.trunc === false;
    const out = process.stdout;
    if (opts.format === 'json') {
      out.write(`${JSON.stringify(images.map((i) => jsonOf(i, users.get(i.id) ?? 0)), null, 4)}\n`);
      return;
    }
    if (opts.quiet) {
      const seen = new Set<string>();
      for (const img of images) {
        const id = noTrunc ? img.id : img.id.slice(7, 19);
        if (!seen.has(id)) out.write(`${id}\n`);
        seen.add(id);
      }
      return;
    }
    const rows = sortRows(images.flatMap((i) => rowsOf(i, noTrunc, users.get(i.id) ?? 0)), sortKey);
    if (opts.format !== undefined) {
      const view = rows.map((r) => goType({ ...r }, 'images.imageReporter'));
      out.write(formatReport(opts.format, view, { name: 'images', headers: tableHeaders({}, IMAGES_HEADERS), noHeading: opts.noheading === true }));
      return;
    }
    const table = rows.map((r) => [r.Repository, r.Tag, ...(opts.digests ? [r.Digest] : []), r.ID, r.Created, r.Size]);
    if (!opts.noheading) table.unshift(['REPOSITORY', 'TAG', ...(opts.digests ? ['DIGEST'] : []), 'IMAGE ID', 'CREATED', 'SIZE']);
    out.write(formatTable(table));
  });
}
