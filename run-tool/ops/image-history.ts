import { isSkiffError, type Cancellable } from '../../shared/errors.ts';
import { decompress } from '../../shared/layer/compression.ts';
import { chainIDs } from '../../shared/layer/unpack-cache.ts';
import type { Store } from '../../shared/store/store.ts';
import { readRunImage, type RunImage } from '../containers/create.ts';

// The history operation (podman's `history`): one row per history entry of an image's config, newest first.

/** One row of `history`. */
export interface HistoryRow {
  /** the ID (64 hex) of the stored image whose top layer this entry made, or `<missing>` */
  id: string;
  /** the entry's `created` exactly as the config has it ('' when absent) */
  created: string;
  createdBy: string;
  /** uncompressed size of the layer the entry made; 0 for an empty-layer entry */
  size: number;
  comment: string;
  tags: string[];
}

/** The uncompressed byte count of one layer blob (streamed, never buffered; the store verifies the blob). */
async function uncompressedSize(store: Store, img: RunImage, i: number, o: Cancellable): Promise<number> {
  const { stream } = await decompress(await store.blobs.open(img.layers[i]!.desc, o), { signal: o.signal });
  let n = 0;
  for await (const chunk of stream) n += (chunk as Buffer).length;
  return n;
}

/** Image IDs (64 hex) keyed by the chain ID of their top layer: which stored image each layer stack is. */
async function imagesByTopChain(store: Store, o: Cancellable): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  const seen = new Set<string>();
  for (const e of await store.layout.entries(o)) {
    let img: RunImage;
    try {
      img = await readRunImage(store, e.digest, o);
    } catch (err) {
      if (isSkiffError(err)) continue;
      throw err;
    }
    if (seen.has(img.id) || img.layers.length === 0) continue;
    seen.add(img.id);
    const top = chainIDs(img.layers.map((l) => l.diffID)).at(-1)!;
    out.set(top, [...(out.get(top) ?? []), img.id.slice(7)]);
  }
  return out;
}

/**
 * The history of image `input` as podman 4.3's libimage computes it: the config's history entries, newest first;
 * each non-empty entry takes the next layer down and its uncompressed size; an entry's ID is the image's own
 * for the newest entry, else the first stored image (not already named) whose top layer is that layer, else
 * `<missing>`. ENOTFOUND ("image not known") for an unknown image. Read-only.
 */
export async function imageHistory(store: Store, input: string, o: Cancellable = {}): Promise<HistoryRow[]> {
  const img = await readRunImage(store, input, o);
  const history = img.config.history ?? [];
  const chains = chainIDs(img.layers.map((l) => l.diffID));
  const tops = await imagesByTopChain(store, o);
  const used = new Set<string>();
  const rows: HistoryRow[] = [];
  let layer = img.layers.length - 1;
  for (let x = history.length - 1; x >= 0; x--) {
    const h = history[x]!;
    const row: HistoryRow = { id: '<missing>', created: h.created ?? '', createdBy: h.created_by ?? '', size: 0, comment: h.comment ?? '', tags: [] };
    if (x === history.length - 1) {
      row.id = img.id.slice(7);
      used.add(row.id);
    }
    if (layer >= 0) {
      if (!h.empty_layer) row.size = await uncompressedSize(store, img, layer, o);
      const owner = tops.get(chains[layer]!)?.[0];
      if (owner !== undefined && !used.has(owner)) {
        row.id = owner;
        used.add(owner);
      }
      if (layer > 0 && !h.empty_layer) layer--;
    }
    rows.push(row);
  }
  return rows;
}
