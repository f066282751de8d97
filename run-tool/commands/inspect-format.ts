import { formatReport } from '../../shared/cli/go-template.ts';
import { SkiffError } from '../../shared/errors.ts';

/**
 * `inspect --format TEMPLATE` output as podman 4.3 prints it for containers, images, volumes and networks: the
 * template runs over every object (named "inspect", dot typed `interface {}`), one result per line; an
 * execution error carries podman's "inspecting object: printing inspect output: " prefix, a parse error does not.
 * Nothing is printed when the template fails.
 */
export function inspectFormat(format: string, objects: readonly unknown[]): string {
  try {
    return formatReport(format.replace(/^table /, ''), objects, { name: 'inspect', noHeading: true });
  } catch (e) {
    if (e instanceof SkiffError && e.message.includes(': executing "inspect" at <')) {
      throw new SkiffError('EINVALID', `inspecting object: printing inspect output: ${e.message}`);
    }
    throw e;
  }
}
