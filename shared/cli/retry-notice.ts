import type { RetryNotice } from '../registry/retry.ts';

/**
 * The stderr line for a registry retry, in the words skopeo's warning uses: what failed, the wait, attempt n/N.
 * One line; the error text is already redacted by the registry client.
 */
export function retryNoticeLine(n: RetryNotice): string {
  const wait = n.delayMs < 1000 ? `${n.delayMs}ms` : `${(n.delayMs / 1000).toFixed(1).replace(/\.0$/, '')}s`;
  return `WARN[0000] Failed, retrying in ${wait} ... (${n.attempt}/${n.of}). Error: ${n.error.replace(/[\r\n]+/g, ' ')}`;
}

/** Writes retryNoticeLine to stderr: the `onRetry` of a command's RegistryOptions. */
export function printRetryNotice(n: RetryNotice): void {
  process.stderr.write(`${retryNoticeLine(n)}\n`);
}
