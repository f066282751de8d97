// The Docker API's network and volume endpoints over run-tool/ops (connect/disconnect: ops/network-connect.ts).
import { isSkiffError } from '../../shared/errors.ts';
import type { NetworkConfig } from '../../shared/network/types.ts';
import { createNetwork, inspectNetworks, listNetworksMatching, removeNetwork } from '../ops/networks.ts';
import { createNamedVolume, inspectVolumes, listVolumesMatching, pruneLabelFilters, pruneUnusedVolumes, removeNamedVolume } from '../ops/volumes.ts';
import type { Store } from '../../shared/store/store.ts';
import { connectContainerNetwork, disconnectContainerNetwork } from '../ops/network-connect.ts';
import { withApiStore, type ApiRequest } from './context.ts';
import { ApiError, dockerFilters, queryBool, readJson, rejectUnknownFields, sendJson } from './http-util.ts';

/** Docker's network JSON of a skiff network. Pure. */
export function dockerNetwork(n: NetworkConfig): Record<string, unknown> {
  return {
    Name: n.name, Id: n.id, Created: n.created, Scope: 'local', Driver: n.driver, EnableIPv6: n.ipv6_enabled, Internal: n.internal,
    Attachable: false, Ingress: false, ConfigOnly: false, Containers: {}, Options: n.options ?? {}, Labels: n.labels ?? {},
    IPAM: { Driver: 'default', Options: {}, Config: n.subnets.map((s) => ({ Subnet: s.subnet, ...(s.gateway && { Gateway: s.gateway }) })) },
  };
}

const missingNetwork = (e: unknown, name: string): unknown => (isSkiffError(e, 'ENOTFOUND') ? new ApiError(404, `network ${name} not found`) : e);

/** GET /networks */
export async function networkListHandler(r: ApiRequest): Promise<void> {
  sendJson(r.res, 200, (await listNetworksMatching(r.root, dockerFilters(r.query))).map(dockerNetwork));
}

/** GET /networks/{id} */
export async function networkInspectHandler(r: ApiRequest): Promise<void> {
  const { found, error } = await inspectNetworks(r.root, [r.params[0]!]);
  if (error || !found[0]) throw missingNetwork(error, r.params[0]!);
  sendJson(r.res, 200, dockerNetwork(found[0]));
}

const NETWORK_FIELDS = new Set(['Name', 'CheckDuplicate', 'Driver', 'Internal', 'Attachable', 'Ingress', 'IPAM', 'EnableIPv6', 'Options', 'Labels', 'Scope', 'ConfigOnly', 'ConfigFrom']);

/** POST /networks/create: 409 for an existing name (Docker's CheckDuplicate). */
export async function networkCreateHandler(r: ApiRequest): Promise<void> {
  const b = await readJson(r.req);
  rejectUnknownFields(b, NETWORK_FIELDS, 'the network create body');
  if (typeof b.Name !== 'string' || b.Name === '') throw new ApiError(400, 'Name is required: name the network');
  const ipam = (b.IPAM as { Config?: { Subnet?: string; Gateway?: string }[] } | undefined)?.Config?.[0];
  const n = await createNetwork(r.root, {
    name: b.Name, ...(typeof b.Driver === 'string' && b.Driver !== '' && { driver: b.Driver }), internal: b.Internal === true,
    labels: (b.Labels ?? {}) as Record<string, string>, ...(ipam?.Subnet && { subnet: ipam.Subnet }), ...(ipam?.Gateway && { gateway: ipam.Gateway }),
  });
  sendJson(r.res, 201, { Id: n.id, Warning: '' });
}

/** DELETE /networks/{id} */
export async function networkRemoveHandler(r: ApiRequest): Promise<void> {
  await removeNetwork(r.root, r.params[0]!).catch((e: unknown) => Promise.reject(missingNetwork(e, r.params[0]!)));
  r.res.writeHead(204).end();
}

/** GET /volumes */
export async function volumeListHandler(r: ApiRequest): Promise<void> {
  sendJson(r.res, 200, { Volumes: await listVolumesMatching(r.root, dockerFilters(r.query)), Warnings: [] });
}

const VOLUME_FIELDS = new Set(['Name', 'Driver', 'DriverOpts', 'Labels']);

/** POST /volumes/create */
export async function volumeCreateHandler(r: ApiRequest): Promise<void> {
  const b = await readJson(r.req);
  rejectUnknownFields(b, VOLUME_FIELDS, 'the volume create body');
  const v = await createNamedVolume(r.root, typeof b.Name === 'string' && b.Name !== '' ? b.Name : undefined, {
    labels: (b.Labels ?? {}) as Record<string, string>, options: (b.DriverOpts ?? {}) as Record<string, string>, ...(typeof b.Driver === 'string' && b.Driver !== '' && { driver: b.Driver }),
  });
  sendJson(r.res, 201, v);
}

const missingVolume = (e: unknown, name: string): unknown => (isSkiffError(e, 'ENOTFOUND') ? new ApiError(404, `get ${name}: no such volume`) : e);

/** GET /volumes/{name} */
export async function volumeInspectHandler(r: ApiRequest): Promise<void> {
  const [v] = await inspectVolumes(r.root, [r.params[0]!]).catch((e: unknown) => Promise.reject(missingVolume(e, r.params[0]!)));
  sendJson(r.res, 200, v);
}

/** DELETE /volumes/{name}?force= */
export async function volumeRemoveHandler(r: ApiRequest): Promise<void> {
  await removeNamedVolume(r.root, r.params[0]!, { force: queryBool(r.query, 'force') }).catch((e: unknown) => Promise.reject(missingVolume(e, r.params[0]!)));
  r.res.writeHead(204).end();
}

/** POST /volumes/prune?filters= (label=KEY[=VALUE]) → VolumesDeleted, SpaceReclaimed. */
export async function volumePruneHandler(r: ApiRequest): Promise<void> {
  const deleted = await pruneUnusedVolumes(r.root, pruneLabelFilters(dockerFilters(r.query)));
  sendJson(r.res, 200, { VolumesDeleted: deleted.length ? deleted : null, SpaceReclaimed: 0 });
}

const CONNECT_FIELDS = new Set(['Container', 'EndpointConfig', 'Force']);

/** The container and endpoint of a connect/disconnect body; 400 without a Container. */
async function connectBody(r: ApiRequest): Promise<{ container: string; aliases: string[]; ip?: string }> {
  const b = await readJson(r.req);
  rejectUnknownFields(b, CONNECT_FIELDS, 'the network connect body');
  if (typeof b.Container !== 'string' || b.Container === '') throw new ApiError(400, 'Container is required: name the container to connect');
  const ep = (b.EndpointConfig ?? {}) as { Aliases?: unknown; IPAMConfig?: { IPv4Address?: unknown } };
  const aliases = Array.isArray(ep.Aliases) ? ep.Aliases.map(String) : [];
  const ip = typeof ep.IPAMConfig?.IPv4Address === 'string' && ep.IPAMConfig.IPv4Address !== '' ? ep.IPAMConfig.IPv4Address : undefined;
  return { container: b.Container, aliases, ...(ip && { ip }) };
}

/** Runs a connect/disconnect with Docker's 404 wording for a missing container or network. */
async function onEndpoint(r: ApiRequest, container: string, fn: (store: Store) => Promise<void>): Promise<void> {
  try {
    await withApiStore(r.root, fn);
  } catch (e) {
    if (isSkiffError(e, 'ENOTFOUND')) throw /network/i.test(e.message) ? missingNetwork(e, r.params[0]!) : new ApiError(404, `No such container: ${container}`);
    throw e;
  }
  r.res.writeHead(200).end();
}

/** POST /networks/{id}/connect {Container, EndpointConfig: {Aliases, IPAMConfig: {IPv4Address}}} */
export async function networkConnectHandler(r: ApiRequest): Promise<void> {
  const b = await connectBody(r);
  await onEndpoint(r, b.container, (store) => connectContainerNetwork(store, b.container, r.params[0]!, { aliases: b.aliases, ...(b.ip && { ip: b.ip }) }));
}

/** POST /networks/{id}/disconnect {Container, Force} */
export async function networkDisconnectHandler(r: ApiRequest): Promise<void> {
  const b = await connectBody(r);
  await onEndpoint(r, b.container, (store) => disconnectContainerNetwork(store, b.container, r.params[0]!));
}
