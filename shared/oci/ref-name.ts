import { lineStart, SkiffError } from '../errors.ts';

// image-spec annotations.md, org.opencontainers.image.ref.name:
//   ref       ::= component ("/" component)*
//   component ::= alphanum (separator alphanum)*
//   alphanum  ::= [A-Za-z0-9]+
//   separator ::= [-._:@+] | "--"
const COMPONENT = '[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*';
const REF_NAME_RE = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);

/** Longest ref name accepted (the grammar has no bound; 255 matches the distribution name limit). */
export const MAX_REF_NAME_LENGTH = 255;

/**
 * True when `s` matches the image-spec ref.name grammar and is at most MAX_REF_NAME_LENGTH characters.
 * Such a name can never be empty, absolute, contain `..`/`.` components, whitespace or start with a dot (LS-06);
 * it may contain `/` and is therefore never safe to use as a single file name.
 */
export function isValidRefName(s: unknown): s is string {
  return typeof s === 'string' && s.length <= MAX_REF_NAME_LENGTH && REF_NAME_RE.test(s);
}

/** Returns `s` when it is a valid ref name, else throws EINVALID naming it (LS-06). */
export function parseRefName(s: unknown, what = 'reference name'): string {
  if (isValidRefName(s)) return s;
  const shown = typeof s === 'string' ? JSON.stringify(lineStart(s, 80)) : String(s);
  const why = typeof s === 'string' && s.length > MAX_REF_NAME_LENGTH ? `longer than ${MAX_REF_NAME_LENGTH} characters` : 'it must match the OCI ref.name grammar';
  throw new SkiffError('EINVALID', `invalid ${what} ${shown}: ${why}`, {
    hint: 'use letters and digits separated by one of - . _ : @ + -- or /, e.g. "latest" or "v1.2/x"',
  });
}
