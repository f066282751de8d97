// podman's registry flags live in shared/cli so build-tool's commands take the same ones.
export { addRegistryOptions, registryOptionsOf } from '../../shared/cli/registry-options.ts';
