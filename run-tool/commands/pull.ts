import type { Command } from 'commander';
import { SkiffError } from '../../shared/errors.ts';
import { addRootOption, storeRootOf } from '../../shared/cli/program.ts';
import { hostPlatform, parsePlatform } from '../../shared/image/platform.ts';
import type { Platform } from '../../shared/oci/types.ts';
import { addRegistryOptions, registryOptionsOf } from './registry-options.ts';
import { interruptSignal } from '../../shared/cli/interrupt.ts';
import { allTagNames, pullImage, pullPolicyOf } from '../ops/pull-image.ts';

/**
 * Adds podman's `pull [--tls-verify] [--creds] [--authfile] [--cert-dir] [--platform] [--arch] [--os] [-q]
 * [--all-tags] IMAGE…`: progress on stderr, the image ID (64 hex) on stdout per image.
 */
export function addPullCommand(program: Command): void {
  const cmd = program
    .command('pull')
    .description('pull an image from a registry into the local store')
    .argument('<image...>', 'image name (short names use the search registries)')
    .option('-q, --quiet', 'suppress progress output')
    .option('-a, --all-tags', 'pull every tagged image of the repository')
    .option('--platform <os/arch[/variant]>', 'platform of the image to pull')
    .option('--arch <arch>', 'architecture of the image to pull')
    .option('--os <os>', 'operating system of the image to pull')
    .option('--variant <variant>', 'architecture variant of the image to pull')
    .option('--policy <path>', 'trust policy file (default $HOME/.config/containers/policy.json, /etc/containers/policy.json)')
    .option('--signature-policy <path>', "podman's name for --policy")
    .option('--insecure-policy', 'pull without any trust-policy check');
  addRegistryOptions(addRootOption(cmd)).action(
    async (images: string[], a: { quiet?: boolean; allTags?: boolean; platform?: string; arch?: string; os?: string; variant?: string; authfile?: string; creds?: string; certDir?: string; tlsVerify?: boolean; policy?: string; signaturePolicy?: string; insecurePolicy?: boolean }) => {
      const root = storeRootOf(cmd);
      const registry = registryOptionsOf(a);
      let platform: Platform | undefined = a.platform ? parsePlatform(a.platform) : undefined;
      if (a.arch || a.os || a.variant) {
        if (platform) throw new SkiffError('EINVALID', '--platform cannot be combined with --arch, --os or --variant');
        const host = hostPlatform();
        platform = { ...host, ...(a.os ? { os: a.os } : {}), ...(a.arch ? { architecture: a.arch } : {}), ...(a.variant ? { variant: a.variant } : {}) };
      }
      const log = a.quiet ? undefined : (line: string): void => void process.stderr.write(`${line}\n`);
      const { signal, dispose } = interruptSignal();
      try {
        const policy = await pullPolicyOf(a, { signal });
        for (const image of images) {
          const names = a.allTags ? await allTagNames(image, registry, { signal }) : [image];
          for (const n of names) {
            const r = await pullImage(root, n, { registry, policy, ...(platform ? { platform } : {}), ...(log ? { log } : {}), signal });
            process.stdout.write(`${r.id.replace(/^sha256:/, '')}\n`);
          }
        }
      } finally {
        dispose();
      }
    },
  );
}
