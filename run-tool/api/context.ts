// What every API handler gets: the store root (a store is opened per request and closed after it: the service
// keeps no state the store does not hold) and the parsed request.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { openStore, type Store } from '../../shared/store/store.ts';

/** What the service passes to every request: the store, its version, and its limits. */
export interface ServiceContext {
  root: string;
  version: string;
  /** The largest archive POST /images/load accepts, in bytes (larger is a 413 before or while it is read). */
  maxLoadBytes: number;
}

/** One request as a handler sees it. */
export interface ApiRequest extends ServiceContext {
  req: IncomingMessage;
  res: ServerResponse;
  /** The path parameters of the matched route, in order (URL-decoded). */
  params: string[];
  query: URLSearchParams;
  /** Aborts when the client goes away. */
  signal: AbortSignal;
}

/** A route handler. It replies through `res` (or throws; the router turns the error into Docker's JSON). */
export type Handler = (r: ApiRequest) => Promise<void>;

/** Runs `fn` with the store at `root` open, closing it after (also on failure). */
export async function withApiStore<T>(root: string, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(root, { create: true });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}
