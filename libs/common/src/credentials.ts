/**
 * Every kind of credential Benteng mints, in one list. Each minting site passes what it minted
 * through `minted(kind, value)` on its way out, so the value can be followed wherever it goes.
 *
 * Production installs no observer, and `minted` only returns its argument. The test suite installs
 * one (test/support/setup-env.ts) that registers every minted value with the secret-leakage check
 * (test/support/leak-registry.ts): from then on the value may appear in the one response that
 * issued it and nowhere else, not in any log line. A kind added here, or a minting site added
 * anywhere, is therefore checked without a test having to remember it; and
 * test/security/credential-kinds.spec.ts fails on a file that mints secret material without saying
 * which kind it is.
 */
export const CREDENTIAL_KINDS = [
  'access token',
  'refresh token',
  'partner api key',
  'partner client secret',
  'partner access token',
  'webhook secret',
  'export link signature',
  'queue board ticket',
  'queue board session',
  'invitation token',
  'internal signature',
  'metrics scrape credential',
] as const;

export type CredentialKind = (typeof CREDENTIAL_KINDS)[number];

type MintObserver = (kind: CredentialKind, value: string) => void;

const observers = new Set<MintObserver>();

/** Follows every credential minted in this process from now on; returns the function that stops it. */
export function observeMintedCredentials(observer: MintObserver): () => void {
  observers.add(observer);
  return () => observers.delete(observer);
}

/** Marks `value` as a freshly minted credential of `kind` and returns it unchanged. */
export function minted<T extends string>(kind: CredentialKind, value: T): T {
  for (const observer of observers) observer(kind, value);
  return value;
}
