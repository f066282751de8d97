import { SkiffError } from '../errors.ts';
import type { Credentials } from '../registry/types.ts';

/**
 * Parses `--creds USERNAME[:PASSWORD]` as skopeo and podman do: split at the first colon; a missing password is
 * empty. An empty username is EINVALID.
 */
export function parseCredentials(s: string): Credentials {
  const i = s.indexOf(':');
  const username = i < 0 ? s : s.slice(0, i);
  const password = i < 0 ? '' : s.slice(i + 1);
  if (username === '') throw new SkiffError('EINVALID', 'invalid --creds: the username is empty', { hint: 'use --creds USERNAME[:PASSWORD]' });
  return { username, password };
}
