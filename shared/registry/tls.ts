import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Dispatcher } from 'undici';
import { loadUndici } from './undici-lazy.ts';
import { SkiffError } from '../errors.ts';
import { isValidRegistry } from '../ref/reference.ts';
import { safeLookup } from './safe-lookup.ts';
import type { BulkConnect } from './bulk-get.ts';

/** TLS settings for one registry host. */
export interface TlsSettings {
  ca?: string[];
  cert?: string;
  key?: string;
  rejectUnauthorized: boolean;
}

/**
 * Reads the TLS material of `registry` from `certDir` (else `/etc/containers/certs.d/<host[:port]>/`, then
 * `/etc/docker/certs.d/…`): every `*.crt` is a CA added to the system CAs; a `*.cert` with its `*.key` is the
 * client certificate. A missing directory means system CAs only. `tlsVerify: false` disables verification.
 */
export async function loadTlsSettings(registry: string, opts: { certDir?: string; tlsVerify: boolean; systemDirs?: string[] }): Promise<TlsSettings> {
  if (!isValidRegistry(registry)) throw new SkiffError('EINVALID', `invalid registry host ${JSON.stringify(registry)}`);
  const dirs = opts.certDir !== undefined ? [opts.certDir] : (opts.systemDirs ?? ['/etc/containers/certs.d', '/etc/docker/certs.d']).map((d) => join(d, registry));
  const out: TlsSettings = { rejectUnauthorized: opts.tlsVerify };
  for (const dir of dirs) {
    let names: string[];
    try {
      names = (await readdir(dir)).sort();
    } catch (e) {
      if (opts.certDir !== undefined && (e as NodeJS.ErrnoException).code !== 'ENOENT') throw new SkiffError('EIO', `cannot read --cert-dir ${dir}: ${(e as Error).message}`);
      continue;
    }
    const cas: string[] = [];
    for (const n of names) {
      if (n.endsWith('.crt')) cas.push(await readFile(join(dir, n), 'utf8'));
      else if (n.endsWith('.cert')) {
        const keyName = n.slice(0, -'.cert'.length) + '.key';
        if (!names.includes(keyName)) throw new SkiffError('EINVALID', `client certificate ${join(dir, n)} has no matching ${keyName}`);
        out.cert = await readFile(join(dir, n), 'utf8');
        out.key = await readFile(join(dir, keyName), 'utf8');
      } else if (n.endsWith('.key')) {
        const certName = n.slice(0, -'.key'.length) + '.cert';
        if (!names.includes(certName)) throw new SkiffError('EINVALID', `client key ${join(dir, n)} has no matching ${certName}`);
      }
    }
    // node:tls loads only here: a plain-HTTP registry never needs it (undici loads it for https connects)
    if (cas.length > 0) out.ca = [...(await import('node:tls')).rootCertificates, ...cas];
    break;
  }
  return out;
}

const dispatchers = new Map<string, Dispatcher>();

function proxyConfigured(env: NodeJS.ProcessEnv): boolean {
  return Boolean(env.HTTP_PROXY || env.http_proxy || env.HTTPS_PROXY || env.https_proxy);
}

/**
 * The undici dispatcher for a TLS configuration: an Agent, or an EnvHttpProxyAgent when HTTP(S)_PROXY is set
 * (NO_PROXY honoured). Names resolve through safeLookup (never to an unspecified or link-local address). Cached
 * per configuration so connections are reused across repositories.
 */
export async function dispatcherFor(tls: TlsSettings, env: NodeJS.ProcessEnv = process.env): Promise<Dispatcher> {
  const useProxy = proxyConfigured(env);
  const key = JSON.stringify([tls, useProxy]);
  let d = dispatchers.get(key);
  if (d === undefined) {
    const connect = { ...tls, ...(tls.ca ? { ca: tls.ca } : {}), lookup: safeLookup() };
    const { Agent, EnvHttpProxyAgent } = await loadUndici();
    const again = dispatchers.get(key); // another caller may have made it while undici loaded
    if (again !== undefined) return again;
    d = useProxy ? new EnvHttpProxyAgent({ connect, requestTls: connect }) : new Agent({ connect, keepAliveTimeout: 10_000 });
    dispatchers.set(key, d);
  }
  return d;
}

/**
 * How bulk GETs (large blobs) connect for a TLS configuration: the dispatcher's TLS material and safeLookup.
 * Undefined when HTTP(S)_PROXY is set: every request then goes through the proxy agent.
 */
export function bulkConnectFor(tls: TlsSettings, env: NodeJS.ProcessEnv = process.env): BulkConnect | undefined {
  if (proxyConfigured(env)) return undefined;
  return { ...tls, lookup: safeLookup() };
}

/** Closes every cached dispatcher (tests, process exit); later requests create new ones. */
export async function closeDispatchers(): Promise<void> {
  const all = [...dispatchers.values()];
  dispatchers.clear();
  await Promise.all(all.map((d) => d.close().catch(() => {})));
}
