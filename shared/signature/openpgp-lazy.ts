/**
 * The OpenPGP library, loaded on first use: it is large, and only signing and verification need it, so other
 * commands start without parsing it. Memoised; normalised like loadUndici in case a bundler wraps it.
 */
type OpenPGP = typeof import('openpgp');
let loading: Promise<OpenPGP> | undefined;
export function loadOpenpgp(): Promise<OpenPGP> {
  loading ??= import('openpgp').then((m) => {
    const ns = m as OpenPGP & { default?: OpenPGP };
    return typeof ns.readKeys === 'function' ? ns : (ns.default as OpenPGP);
  });
  return loading;
}
