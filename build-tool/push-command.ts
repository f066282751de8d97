/** `build-tool push [--tls-verify] [--creds] NAME [DEST]`: copies a local image to a registry (or any transport). */
import type { Command } from 'commander';
import { SkiffError } from '../shared/errors.ts';
import { addRootOption, storeRootOf } from '../shared/cli/program.ts';
import { parseCredentials } from '../shared/cli/credentials-flag.ts';
import { parseImageName } from '../shared/ref/transport-name.ts';
import { parseReference } from '../shared/ref/reference.ts';
import { openTarget } from '../shared/transport/open.ts';
import { openStoreSource } from '../shared/transport/store.ts';
import { copyImage } from '../shared/transport/copy-image.ts';

/** Adds `push`. DEST defaults to `docker://NAME`; a DEST without a transport is a registry reference. */
export function addPushCommand(program: Command): void {
  const cmd = program
    .command('push')
    .description('push a local image to a registry or another destination')
    .argument('<name>')
    .argument('[destination]')
    .option('--tls-verify [bool]', 'verify TLS certificates (default true)')
    .option('--creds <user:password>', 'registry credentials')
    .option('--authfile <file>', 'registry credentials file')
    .option('--format <format>', 'manifest format: oci or docker (v2s2)')
    .option('-q, --quiet', 'no progress output');
  addRootOption(cmd).action(async (name: string, dest: string | undefined, f: Record<string, unknown>) => {
    const root = storeRootOf(cmd);
    let target = parseImageName(dest ?? `docker://${name}`);
    if (target.transport === 'plain') target = parseImageName(`docker://${dest}`);
    const tls = f.tlsVerify === undefined ? undefined : f.tlsVerify === true || f.tlsVerify === 'true';
    const registry = {
      tlsVerify: tls,
      credentials: f.creds === undefined ? undefined : parseCredentials(String(f.creds)),
      authFile: f.authfile === undefined ? undefined : String(f.authfile),
    };
    const format = f.format === undefined ? undefined : f.format === 'oci' ? 'oci' : f.format === 'docker' || f.format === 'v2s2' ? 'docker' : undefined;
    if (f.format !== undefined && format === undefined) throw new SkiffError('EINVALID', `invalid --format ${String(f.format)}`);
    let ref;
    try {
      ref = parseReference(name); // found as buildah finds it: podman's short-name matching (lookupImage)
    } catch {
      ref = undefined;
    }
    const src = await openStoreSource(root, ref ? { ref } : {});
    try {
      const dst = await openTarget(target, { storeRoot: root, registry });
      try {
        const r = await copyImage(src, dst, format ? { format } : {});
        if (!f.quiet) process.stderr.write(`pushed ${src.name.startsWith('store:') ? src.name.slice('store:'.length) : name}\n`);
        void r;
      } finally {
        await dst.close();
      }
    } finally {
      await src.close();
    }
  });
}
