import type { Command } from 'commander';
import { SkiffError } from '../shared/errors.ts';
import { parseImageName } from '../shared/ref/transport-name.ts';
import { resolveImage } from '../shared/image/index-view.ts';
import { openRepository } from '../shared/registry/repository.ts';
import { normalizePull, repositoryName } from '../shared/ref/reference.ts';
import { formatReport } from '../shared/cli/go-template.ts';
import { digestOf } from '../shared/oci/digest.ts';
import { addImageOptions, commandSignal, registryOptionsOf, transportContext } from './options.ts';
import { goJson, inspectOutput, ociConfigView } from './inspect-output.ts';
import { openNamedSource, platformOverride, requireTransport } from './common.ts';

/** `inspect [--raw] [--config] [--format json|TEMPLATE] [--no-tags] IMAGE`, skopeo's fields and exit codes. */
export function addInspectCommand(program: Command): void {
  const cmd = program
    .command('inspect')
    .description('inspect image IMAGE-NAME: its manifest, configuration and tags')
    .argument('<image>', 'transport:reference, e.g. docker://127.0.0.1:5000/app:1 or oci:/path:tag')
    .option('--raw', 'output the raw manifest or configuration')
    .option('--config', 'output the configuration')
    .option('-f, --format <format>', "'json' or a Go template, e.g. '{{.Digest}}'")
    .option('-n, --no-tags', 'do not list the available tags from the repository');
  addImageOptions(cmd).action(async (image: string, opts: { raw?: boolean; config?: boolean; format?: string; tags: boolean }) => {
    if (opts.raw && opts.format) throw new SkiffError('EINVALID', 'raw output does not support format option');
    const name = requireTransport(parseImageName(image), image);
    const { signal, dispose } = commandSignal(cmd);
    const src = await openNamedSource(name, image, transportContext(cmd, signal));
    try {
      const top = await src.getManifest(undefined, { signal });
      const out = process.stdout;
      if (opts.raw && !opts.config) {
        out.write(top.bytes);
        return;
      }
      const platform = platformOverride(cmd);
      const img = await resolveImage(src, { platform, signal });
      if (opts.config) {
        if (opts.raw) out.write(await img.rawConfig({ signal }));
        else write(ociConfigView(await img.config({ signal })), opts.format);
        return;
      }
      let repoTags: string[] = [];
      let displayName: string | undefined;
      if (name.transport === 'docker') {
        const ref = normalizePull(name.ref);
        displayName = repositoryName(ref);
        if (opts.tags) repoTags = await openRepository(ref.registry, ref.path, registryOptionsOf(cmd)).listTags({ signal });
      } else if (name.transport === 'store' && name.ref) {
        // the name the store resolved (a short name is localhost/…, as podman stores it), not docker.io's
        displayName = repositoryName(normalizePull(storeResolvedRef(src.name) ?? name.ref));
      }
      else if (name.transport === 'docker-archive' && name.ref) displayName = repositoryName(normalizePull(name.ref));
      write(inspectOutput({ name: displayName, digest: digestOf(top.bytes), repoTags, manifest: await img.manifest({ signal }), config: await img.config({ signal }) }), opts.format);
    } finally {
      dispose();
      await src.close();
    }
  });
}

function write(data: unknown, format: string | undefined): void {
  if (format === undefined || format === 'json') process.stdout.write(goJson(data));
  else process.stdout.write(formatReport(format, [data], { name: 'skopeo inspect', rangeAction: '{{range . }}', noHeading: true }));
}

/** The reference a store: source resolved to (`store:localhost/app:1` → localhost/app:1), if it is a name. */
function storeResolvedRef(srcName: string): Extract<ReturnType<typeof parseImageName>, { transport: 'docker' }>['ref'] | undefined {
  const resolved = /^store:(.+)$/.exec(srcName)?.[1];
  if (!resolved || /^[a-f0-9]{64}$/.test(resolved)) return undefined;
  try {
    const parsed = parseImageName(`docker://${resolved}`);
    return parsed.transport === 'docker' ? parsed.ref : undefined;
  } catch {
    return undefined;
  }
}
