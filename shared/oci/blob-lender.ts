/**
 * Takes one lent chunk. The chunk's memory is reused for later bytes once this returns, or once the promise it
 * returns settles: a sink that keeps bytes must copy them. Throwing (or rejecting) stops the delivery.
 */
export type LentChunkSink = (chunk: Buffer) => void | Promise<void>;

/**
 * A blob's bytes delivered into a sink instead of streamed: the source receives into a buffer it reuses, so a
 * large blob allocates nothing per chunk. `lend` is called at most once; it resolves after the last chunk was
 * taken and the source checked what it promised (the size always, the digest unless the sink verifies it), and
 * rejects on any error, after which the sink must discard what it got. `cancel` releases the source when the
 * consumer will not call `lend` (or gives up before it resolves).
 */
export interface BlobLender {
  lend(sink: LentChunkSink): Promise<void>;
  cancel(): void;
}

/** Lends the chunks of a byte stream one by one (each is the stream's own: nothing is reused). */
export async function lendStream(stream: AsyncIterable<Buffer>, sink: LentChunkSink): Promise<void> {
  for await (const chunk of stream) await sink(chunk);
}

/** True for a BlobLender (anything with `lend` and `cancel` functions), as opposed to bytes or a stream. */
export function isLender(x: unknown): x is BlobLender {
  return typeof (x as BlobLender | null)?.lend === 'function' && typeof (x as BlobLender).cancel === 'function';
}
