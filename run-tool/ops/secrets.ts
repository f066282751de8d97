import { SkiffError } from '../../shared/errors.ts';
import { findSecret, listSecrets, type SecretInfo } from '../containers/secrets.ts';

// The secret operations (podman's `secret create|ls|inspect|rm`, file driver): the store's own functions, plus
// listing with filters and inspecting several at once. No operation returns a secret's data.
export { createSecret, removeSecret } from '../containers/secrets.ts';

/** The secrets matching every filter (`name=`, `id=`: prefix matches, as podman's), newest first. EINVALID for other keys. */
export async function listSecretsMatching(root: string, filters: readonly string[] = []): Promise<SecretInfo[]> {
  const tests = filters.map((f) => {
    const i = f.indexOf('=');
    const k = i < 0 ? f : f.slice(0, i);
    const v = f.slice(i + 1);
    if (i < 1 || (k !== 'name' && k !== 'id')) throw new SkiffError('EINVALID', `invalid filter ${JSON.stringify(f)}: secret ls supports name= and id=`);
    return (s: SecretInfo): boolean => (k === 'name' ? s.Spec.Name.startsWith(v) : s.ID.startsWith(v));
  });
  return (await listSecrets(root)).filter((s) => tests.every((t) => t(s)));
}

/**
 * The secrets `names` that exist, in order, and the error for the first that does not (podman's
 * `inspecting secret: no secret with name or id …`); any other failure is thrown.
 */
export async function inspectSecrets(root: string, names: readonly string[]): Promise<{ found: SecretInfo[]; error?: SkiffError }> {
  const found: SecretInfo[] = [];
  let error: SkiffError | undefined;
  for (const n of names) {
    try {
      found.push(await findSecret(root, n));
    } catch (e) {
      if (!(e instanceof SkiffError) || e.code !== 'ENOTFOUND') throw e;
      error ??= new SkiffError('ENOTFOUND', `inspecting secret: ${e.message}`);
    }
  }
  return error === undefined ? { found } : { found, error };
}
