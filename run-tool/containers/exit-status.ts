import { SkiffError } from '../../shared/errors.ts';

/**
 * A run-tool failure that exits with the status podman gives it rather than its code's default: 126/127 when the
 * container's command cannot be run or found, 2 for a container state error, 125 for the rest. The code is EIO.
 */
export function exitError(exitStatus: number, message: string): SkiffError {
  return new SkiffError('EIO', message, { exitStatus });
}
