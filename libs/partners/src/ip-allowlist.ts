import ipaddr from 'ipaddr.js';

/** Most CIDR ranges one partner client may list (also a CHECK constraint on partner_clients). */
export const MAX_IP_ALLOWLIST = 50;

const FOUR_PART_DECIMAL = /^(0|[1-9]\d{0,2})(\.(0|[1-9]\d{0,2})){3}$/;
const PREFIX_LENGTH = /^(0|[1-9]\d{0,2})$/;

/**
 * One CIDR range in the form it is stored and compared in (`address/bits`, the address as ipaddr.js
 * prints it), or undefined when `input` is not one.
 *
 * Stricter than ipaddr.js alone, which also reads the legacy IPv4 forms `10.1`, `0x0a.0.0.1` and
 * `012.0.0.1` (octal!): an allowlist is a security control, so an entry that a reader could take
 * for another address is refused rather than guessed at. IPv6 zone ids (`fe80::1%eth0`) name an
 * interface of one machine and mean nothing to a remote check, so they are refused too.
 */
export function normalizeCidr(input: string): string | undefined {
  const slash = input.lastIndexOf('/');
  if (slash <= 0) return undefined;
  const address = input.slice(0, slash);
  const bits = input.slice(slash + 1);
  if (!PREFIX_LENGTH.test(bits) || address.includes('%')) return undefined;
  const isV6 = address.includes(':');
  if (!isV6 && !FOUR_PART_DECIMAL.test(address)) return undefined;
  try {
    const [range, prefix] = isV6 ? ipaddr.IPv6.parseCIDR(input) : ipaddr.IPv4.parseCIDR(input);
    return `${range.toString()}/${prefix}`;
  } catch {
    return undefined;
  }
}

/**
 * The allowlist as stored: every entry normalized, duplicates (after normalization) dropped in
 * order. Undefined when any entry is not a CIDR range or there are too many.
 */
export function normalizeIpAllowlist(entries: readonly string[]): string[] | undefined {
  if (entries.length > MAX_IP_ALLOWLIST) return undefined;
  const normalized: string[] = [];
  for (const entry of entries) {
    const cidr = normalizeCidr(entry);
    if (cidr === undefined) return undefined;
    if (!normalized.includes(cidr)) normalized.push(cidr);
  }
  return normalized;
}
