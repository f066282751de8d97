import type { Command } from 'commander';
import { SkiffError } from '../shared/errors.ts';
import { parseImageName } from '../shared/ref/transport-name.ts';
import { qualify, repositoryName, normalizePull } from '../shared/ref/reference.ts';
import { openRepository } from '../shared/registry/repository.ts';
import { addImageOptions, commandSignal, registryOptionsOf } from './options.ts';
import { goJson } from './inspect-output.ts';

/** `list-tags docker://REPOSITORY`: every tag (Link pagination followed), skopeo's `{Repository, Tags}` JSON. */
export function addListTagsCommand(program: Command): void {
  const cmd = program
    .command('list-tags')
    .description('list the tags of a repository')
    .argument('<repository>', 'docker://REGISTRY/REPOSITORY (no tag or digest)');
  addImageOptions(cmd).action(async (input: string) => {
    const name = parseImageName(input);
    if (name.transport !== 'docker') throw new SkiffError('EINVALID', `unsupported transport in ${JSON.stringify(input)}: list-tags takes docker://REPOSITORY`);
    if (name.ref.tag !== undefined || name.ref.digest !== undefined) {
      throw new SkiffError('EINVALID', `repository ${JSON.stringify(input)} includes a tag or digest`, { hint: 'name the repository only, e.g. docker://127.0.0.1:5000/app' });
    }
    const ref = normalizePull(name.ref);
    const repo = qualify({ path: ref.path }, ref.registry);
    const { signal, dispose } = commandSignal(cmd);
    try {
      const tags = await openRepository(repo.registry, repo.path, registryOptionsOf(cmd)).listTags({ signal });
      process.stdout.write(goJson({ Repository: repositoryName(repo), Tags: tags }));
    } finally {
      dispose();
    }
  });
}
