// `network create|ls|inspect|rm|connect|disconnect` with podman 4.3's flags, output and exit codes.
import type { Command } from 'commander';
import { SkiffError, isSkiffError } from '../../shared/errors.ts';
import { addRootOption, storeRootOf } from '../../shared/cli/program.ts';
import { formatReport, goType, tableHeaders } from '../../shared/cli/go-template.ts';
import { formatTable } from '../../shared/cli/table.ts';
import { createNetwork, inspectNetworks, listNetworksMatching, removeNetwork } from '../ops/networks.ts';
import type { NetworkConfig } from '../../shared/network/types.ts';
import { collect, keyValueFlags } from '../../shared/cli/flags.ts';
import { inspectFormat } from './inspect-format.ts';
import { withStore } from './cli-util.ts';
import { connectContainerNetwork, disconnectContainerNetwork } from '../ops/network-connect.ts';


/** podman's `network ls --format` fields for one network. */
function rowOf(n: NetworkConfig, noTrunc: boolean): Record<string, unknown> {
  return {
    ID: noTrunc ? n.id : n.id.slice(0, 12),
    Name: n.name,
    Driver: n.driver,
    NetworkInterface: n.network_interface,
    Created: n.created,
    Subnets: n.subnets,
    IPv6Enabled: n.ipv6_enabled,
    Internal: n.internal,
    DNSEnabled: n.dns_enabled,
    Labels: n.labels ?? {},
    Options: n.options ?? {},
    IPAMOptions: n.ipam_options,
  };
}

/** podman's indentation of inspect output (Go's MarshalIndent with five spaces). */
function inspectJson(v: unknown): string {
  return `${JSON.stringify(v, null, 5)}\n`;
}

/**
 * Adds `network create|ls|inspect|rm` (podman 4.3: create [--subnet] [--gateway] [--internal] [-d bridge]
 * [--label] [--disable-dns] [--interface-name] NAME; ls [-q] [--format] [--no-trunc] [--noheading] [-f]; inspect
 * [-f FORMAT] NAME…; rm [-f] NAME…) to run-tool. Network definitions live under `<root>/networks/configs`.
 */
export function addNetworkCommand(program: Command): void {
  const net = program.command('network').description('manage networks');

  const create = net
    .command('create')
    .description('create a network')
    .argument('[name]')
    .option('-d, --driver <driver>', 'driver to manage the network', 'bridge')
    .option('--subnet <cidr>', 'subnet in CIDR format')
    .option('--gateway <ip>', 'IPv4 gateway for the subnet')
    .option('--internal', 'restrict external access from this network')
    .option('--disable-dns', 'disable dns plugin')
    .option('--label <key=value>', 'set metadata on a network', collect, [])
    .option('--interface-name <name>', 'bridge interface name')
    .option('--ignore', "don't fail if the network already exists");
  addRootOption(create).action(async (name: string | undefined, opts: { driver: string; subnet?: string; gateway?: string; internal?: boolean; disableDns?: boolean; label: string[]; interfaceName?: string; ignore?: boolean }) => {
    const cfg = await createNetwork(storeRootOf(create), {
      name,
      driver: opts.driver,
      ...(opts.subnet && { subnet: opts.subnet }),
      ...(opts.gateway && { gateway: opts.gateway }),
      internal: opts.internal,
      disableDns: opts.disableDns,
      ...(opts.interfaceName && { interfaceName: opts.interfaceName }),
      ignoreExisting: opts.ignore,
      labels: keyValueFlags(opts.label, 'label'),
    });
    process.stdout.write(`${cfg.name}\n`);
  });

  const ls = net
    .command('ls')
    .alias('list')
    .description('list networks')
    .option('-q, --quiet', 'display only names')
    .option('--format <format>', "'json' or a Go template")
    .option('--no-trunc', 'do not truncate the network ID')
    .option('--noheading', 'do not print headers')
    .option('-f, --filter <filter>', "filter networks (e.g. 'name=podman')", collect, []);
  addRootOption(ls).action(async (opts: { quiet?: boolean; format?: string; trunc: boolean; noheading?: boolean; filter: string[] }) => {
    const all = await listNetworksMatching(storeRootOf(ls), opts.filter);
    const out = process.stdout;
    if (opts.format === 'json') {
      out.write(`${JSON.stringify(all, null, 2)}\n`);
      return;
    }
    if (opts.quiet) {
      for (const n of all) out.write(`${n.name}\n`);
      return;
    }
    const noTrunc = opts.trunc === false;
    if (opts.format !== undefined) {
      const view = all.map((n) => goType(rowOf(n, noTrunc), 'network.ListPrintReports'));
      out.write(formatReport(opts.format, view, { name: 'ls', headers: tableHeaders(rowOf(all[0] ?? ({ id: '', name: '' } as NetworkConfig), false), { ID: 'NETWORK ID' }), noHeading: opts.noheading === true }));
      return;
    }
    const rows = all.map((n) => [noTrunc ? n.id : n.id.slice(0, 12), n.name, n.driver]);
    if (!opts.noheading) rows.unshift(['NETWORK ID', 'NAME', 'DRIVER']);
    out.write(formatTable(rows));
  });

  const inspect = net
    .command('inspect')
    .description('display detailed information on one or more networks')
    .argument('<names...>')
    .option('-f, --format <format>', 'a Go template applied to each network');
  addRootOption(inspect).action(async (names: string[], opts: { format?: string }) => {
    const { found, error: firstError } = await inspectNetworks(storeRootOf(inspect), names);
    if (opts.format !== undefined && opts.format !== 'json') {
      process.stdout.write(inspectFormat(opts.format, found));
    } else {
      process.stdout.write(found.length ? inspectJson(found) : '[]\n');
    }
    if (firstError) throw firstError;
  });

  const rmCmd = net
    .command('rm')
    .alias('remove')
    .description('remove networks')
    .argument('<names...>')
    .option('-f, --force', 'remove the network even when containers use it')
    .option('-t, --time <seconds>', 'accepted for podman compatibility');
  addRootOption(rmCmd).action(async (names: string[], opts: { force?: boolean }) => {
    const root = storeRootOf(rmCmd);
    let firstError: SkiffError | undefined;
    for (const n of names) {
      try {
        const removed = await removeNetwork(root, n, { force: opts.force });
        process.stdout.write(`${n === removed.name || !removed.id.startsWith(n) ? removed.name : n}\n`);
      } catch (e) {
        if (!isSkiffError(e)) throw e;
        if (firstError) process.stderr.write(`Error: ${firstError.message}\n`);
        firstError = e;
      }
    }
    if (firstError) {
      // podman exits 1 when a named network does not exist, 125 for other failures
      if (firstError.code === 'ENOTFOUND') {
        process.stderr.write(`Error: ${firstError.message}\n`);
        process.exitCode = 1;
        return;
      }
      throw firstError;
    }
  });
  const connect = net
    .command('connect')
    .description('connect a container to a network (a running one gets the interface at once)')
    .argument('<network>')
    .argument('<container>')
    .option('--alias <name>', 'network-scoped DNS name for the container (repeatable)', collect, [])
    .option('--ip <address>', 'IPv4 address for the container on this network');
  addRootOption(connect).action(async (network: string, container: string, opts: { alias: string[]; ip?: string }) => {
    await withStore(connect, (store) => connectContainerNetwork(store, container, network, { aliases: opts.alias, ...(opts.ip && { ip: opts.ip }) }));
  });

  const disconnect = net
    .command('disconnect')
    .description('disconnect a container from a network (a running one loses the interface at once)')
    .argument('<network>')
    .argument('<container>')
    .option('-f, --force', 'accepted for podman compatibility');
  addRootOption(disconnect).action(async (network: string, container: string) => {
    await withStore(disconnect, (store) => disconnectContainerNetwork(store, container, network));
  });
}
