import { SkiffError } from '../../errors.ts';

/** The EINVALID error of a Dockerfile instruction's value or flag: one line, an optional hint. */
export function invalid(message: string, hint?: string): SkiffError {
  return new SkiffError('EINVALID', message, hint === undefined ? {} : { hint });
}
