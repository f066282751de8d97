/**
 * buildah's `pull`, `info` and `version`, as buildah 1.28 prints them: `pull` progress on stderr and the image ID on
 * stdout; `info` a {host, store} JSON document (or a Go template over it); `version` buildah's aligned fields.
 */
import type { Command } from 'commander';
import { cpus, freemem, hostname, release, totalmem, uptime } from 'node:os';
import { readFile } from 'node:fs/promises';
import { SkiffError } from '../shared/errors.ts';
import { addRootOption, storeRootOf, VERSION } from '../shared/cli/program.ts';
import { interruptSignal } from '../shared/cli/interrupt.ts';
import { addRegistryOptions, registryOptionsOf } from '../shared/cli/registry-options.ts';
import { parseGoTemplate } from '../shared/cli/go-template.ts';
import { hostPlatform, parsePlatform } from '../shared/image/platform.ts';
import { parseImageName } from '../shared/ref/transport-name.ts';
import { formatReference } from '../shared/ref/reference.ts';
import { openStore } from '../shared/store/store.ts';
import { lookupImage } from '../shared/store/lookup.ts';
import { isRootless } from '../shared/runtime/rootless.ts';
import { listContainers } from '../shared/build/working/containers.ts';

type Flags = Record<string, unknown>;

/** Adds `pull`, `info` and `version`. */
export function addHostCommands(program: Command): void {
  const pull = addRootOption(
    program
      .command('pull')
      .description('pull an image from a registry (or another transport) into the store')
      .argument('<image>')
      .option('--policy <policy>', 'missing (default), always, never or newer', 'missing')
      .option('--platform <os/arch>', 'prefer this platform instead of the host')
      .option('--remove-signatures', "don't copy signatures")
      .option('-q, --quiet', "don't output progress information"),
  );
  addRegistryOptions(pull).action(async (image: string, f: Flags) => {
    const policy = String(f.policy);
    if (!['missing', 'always', 'never', 'newer'].includes(policy)) throw new SkiffError('EINVALID', `unsupported pull policy ${JSON.stringify(policy)}`, { hint: 'use missing, always, never or newer' });
    const platform = f.platform === undefined ? hostPlatform() : parsePlatform(String(f.platform));
    const root = storeRootOf(pull);
    const registry = registryOptionsOf(f as Parameters<typeof registryOptionsOf>[0]);
    const i = interruptSignal();
    try {
      const name = parseImageName(image);
      const log = f.quiet === true ? undefined : (m: string) => void process.stderr.write(`${m}\n`);
      let lookFor: string;
      if (name.transport === 'plain' || name.transport === 'docker') {
        lookFor = formatReference(name.ref);
        const local = policy === 'missing' || policy === 'never' ? await findId(root, lookFor).catch(() => undefined) : undefined;
        if (local !== undefined) {
          process.stdout.write(`${local}\n`);
          return;
        }
        if (policy === 'never') throw new SkiffError('ENOTFOUND', `${image}: image not known`, { hint: 'pull it with --policy missing' });
        const { pullBaseImage } = await import('../shared/build/executor/pull-base.ts');
        await pullBaseImage(root, lookFor, platform, registry, undefined, i.signal, log);
      } else {
        const { openSource } = await import('../shared/transport/open.ts');
        const { openStoreTarget } = await import('../shared/transport/store.ts');
        const { copyImage } = await import('../shared/transport/copy-image.ts');
        const src = await openSource(name, { storeRoot: root, registry, signal: i.signal });
        try {
          const dst = await openStoreTarget(root, {}, { signal: i.signal });
          try {
            const r = await copyImage(src, dst, { platform, signal: i.signal, ...(f.removeSignatures === true && { removeSignatures: true }) });
            lookFor = r.digest;
          } finally {
            await dst.close();
          }
        } finally {
          await src.close();
        }
      }
      process.stdout.write(`${await findId(root, lookFor)}\n`);
    } finally {
      i.dispose();
    }
  });

  const info = addRootOption(program.command('info').description('display build-tool system information').option('-f, --format <template>', 'use a Go template to format the output'));
  info.action(async (f: Flags) => {
    const doc = await infoDocument(storeRootOf(info));
    process.stdout.write(f.format === undefined ? `${JSON.stringify(doc, null, 4)}\n` : `${parseGoTemplate(String(f.format), { name: 'format' }).render(doc)}\n`);
  });

  program
    .command('version')
    .description('display the build-tool version information')
    .option('--json', 'output in JSON format')
    .action((f: Flags) => {
      const p = hostPlatform();
      const fields: [string, string][] = [
        ['Version', VERSION],
        ['Node Version', process.version],
        ['Image Spec', '1.1.0'],
        ['Runtime Spec', '1.0.2'],
        ['Git Commit', ''],
        ['Built', ''],
        ['OS/Arch', `${p.os}/${p.architecture}`],
        ['BuildPlatform', `${p.os}/${p.architecture}`],
      ];
      if (f.json === true) {
        process.stdout.write(`${JSON.stringify(Object.fromEntries(fields.map(([k, v]) => [k.replace(/[ /]/gu, ''), v])), null, 4)}\n`);
        return;
      }
      for (const [k, v] of fields) process.stdout.write(`${`${k}:`.padEnd(17)}${v}\n`);
    });
}

async function findId(root: string, ref: string): Promise<string> {
  const store = await openStore(root);
  try {
    const found = await lookupImage(store.layout, ref);
    return (found.id ?? found.descriptor.digest).replace(/^sha256:/u, '');
  } finally {
    await store.close();
  }
}

async function osRelease(): Promise<{ distribution: string; version: string }> {
  const text = await readFile('/etc/os-release', 'utf8').catch(() => '');
  const get = (k: string) => (text.match(new RegExp(`^${k}=(.*)$`, 'mu'))?.[1] ?? '').replace(/^"|"$/gu, '');
  return { distribution: get('ID'), version: get('VERSION_ID') };
}

async function infoDocument(root: string): Promise<unknown> {
  const p = hostPlatform();
  let images = 0;
  const store = await openStore(root).catch(() => undefined);
  if (store) {
    try {
      images = new Set((await store.layout.entries()).map((e) => e.digest)).size;
    } finally {
      await store.close();
    }
  }
  const up = uptime();
  return {
    host: {
      Distribution: await osRelease(),
      MemFree: freemem(),
      MemTotal: totalmem(),
      OCIRuntime: 'runc',
      arch: p.architecture,
      cpus: cpus().length,
      hostname: hostname(),
      kernel: release(),
      os: p.os,
      rootless: isRootless(),
      uptime: `${Math.floor(up / 3600)}h ${Math.floor((up % 3600) / 60)}m ${(up % 60).toFixed(2)}s`,
      variant: p.variant ?? '',
    },
    store: {
      ContainerStore: { number: (await listContainers(root)).length },
      GraphDriverName: 'overlay',
      GraphRoot: root,
      ImageStore: { number: images },
    },
  };
}
