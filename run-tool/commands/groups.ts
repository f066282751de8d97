import type { CommandGroup } from '../../shared/cli/command-groups.ts';

/**
 * podman's `container` and `image` groups over run-tool's own commands (main.ts rewrites `container ls` to `ps` before
 * parsing). Members follow podman 4.3's groups; those run-tool has no command for are left out by the command table.
 */
export const RUN_TOOL_GROUPS: Readonly<Record<string, CommandGroup>> = {
  container: {
    description: 'manage containers (podman\'s container group: `container ls`, `container rm`, …)',
    members: ['attach', 'commit', 'cp', 'create', 'diff', 'exec', 'export', 'init', 'inspect', 'kill', 'list', 'logs', 'ls', 'mount', 'pause', 'port', 'ps', 'rename', 'restart', 'rm', 'run', 'start', 'stats', 'stop', 'top', 'unmount', 'unpause', 'wait'],
    renames: { list: ['ps'], ls: ['ps'], inspect: ['inspect', '--type', 'container'] },
  },
  image: {
    description: 'manage images (podman\'s image group: `image ls`, `image rm`, `image prune`, …)',
    members: ['build', 'diff', 'history', 'import', 'inspect', 'list', 'load', 'ls', 'mount', 'prune', 'pull', 'push', 'rm', 'save', 'tag', 'unmount', 'untag'],
    renames: { list: ['images'], ls: ['images'], rm: ['rmi'], inspect: ['inspect', '--type', 'image'], prune: ['image-prune'] },
  },
};
