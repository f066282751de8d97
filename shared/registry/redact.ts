/** Query parameters safe to show in logs and errors; every other value is replaced (RC-19). */
const SAFE_QUERY = new Set(['n', 'last', 'digest', 'mount', 'from', 'service', 'scope']);

/**
 * A URL for logs and error messages: user-info removed and the values of query parameters that may carry
 * credentials (presigned signatures, tokens, upload state) replaced by `REDACTED`. Pure; never throws.
 */
export function redactUrl(u: string | URL): string {
  let url: URL;
  try {
    url = new URL(String(u));
  } catch {
    return '<invalid URL>';
  }
  url.username = '';
  url.password = '';
  const keys = [...url.searchParams.keys()];
  for (const k of new Set(keys)) {
    if (!SAFE_QUERY.has(k)) url.searchParams.set(k, 'REDACTED');
  }
  return url.toString();
}

/** Header names whose values are secrets; shown as `REDACTED` in debug output. */
export const SECRET_HEADERS: ReadonlySet<string> = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-registry-auth', 'x-custom-auth']);

/** Removes anything that looks like a credential from free text (bearer/basic values, token JSON fields). */
export function redactText(s: string): string {
  return s
    .replace(/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, '$1 REDACTED')
    .replace(/("(?:token|access_token|refresh_token|password|secret|identitytoken|auth)"\s*:\s*)"[^"]*"/gi, '$1"REDACTED"')
    .replace(/([?&](?:X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|Signature|sig|token|access_token|_state)=)[^&\s"']*/gi, '$1REDACTED');
}
