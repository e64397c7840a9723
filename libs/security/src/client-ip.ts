import { isIP, isIPv6 } from 'node:net';
import type { FastifyRequest } from 'fastify';
import { ConfigError, type AppConfig } from '@benteng/config';

/**
 * Fastify's `trustProxy` option from TRUSTED_PROXIES. With a list, Fastify (proxy-addr) walks
 * X-Forwarded-For from the right and stops at the first hop that is not a trusted proxy, so
 * `request.ip` is the address that reached our outermost proxy; a client that connects directly
 * cannot name its own address by sending the header. `false` (nothing configured) means the
 * socket peer is the client, whatever the headers say.
 *
 * Each entry is checked here rather than left to proxy-addr: a typo must stop the process with the
 * variable's name, and a `/0` range would trust every peer (the same as `trustProxy: true`).
 * Errors name the entry's position, never its value (libs/config's rule).
 */
export function trustProxyOption(config: AppConfig): false | string[] {
  const entries = config.TRUSTED_PROXIES.split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  if (entries.length === 0) return false;
  entries.forEach((entry, index) => {
    const problem = proxyEntryProblem(entry);
    if (problem) throw new ConfigError([{ variable: 'TRUSTED_PROXIES', rule: `entry ${index + 1} ${problem}` }]);
  });
  return entries;
}

function proxyEntryProblem(entry: string): string | undefined {
  const [address = '', prefix, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return 'is not an IP address or CIDR range';
  if (prefix === undefined) return undefined;
  const bits = /^\d{1,3}$/.test(prefix) ? Number(prefix) : Number.NaN;
  const max = family === 4 ? 32 : 128;
  if (!(bits >= 1 && bits <= max)) return `has a prefix length outside 1-${max} (a /0 range would trust every client)`;
  return undefined;
}

const IPV4_MAPPED = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

/**
 * The client's address as the trust boundary sees it: Fastify's `request.ip`, which honours
 * X-Forwarded-For only from TRUSTED_PROXIES (see trustProxyOption). Use this, never a header,
 * for rate limits, audit entries and logs.
 *
 * An IPv4 client on a dual-stack listener appears as `::ffff:a.b.c.d`; it is reported as
 * `a.b.c.d` so one client has one spelling across listeners, limits and audit records.
 */
export function clientIp(request: FastifyRequest): string {
  const ip = request.ip;
  return IPV4_MAPPED.exec(ip)?.[1] ?? ip;
}

/**
 * The IP as counted. An IPv6 client usually controls a whole /64 (one subscriber line), so counting
 * single IPv6 addresses would give it 2^64 budgets; IPv6 is counted per /64, and an IPv4 address in
 * mapped form as the IPv4 address. Used by LoginThrottle, RateLimiter and
 * AbuseDetector alike. A /64 given as such (as PlacedBlock reports it) maps to itself,
 * so `lift` accepts either spelling.
 */
export function ipBucket(ip: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  if (mapped) return mapped[1]!;
  if (!isIPv6(ip)) return ip;
  return `${ipv6Hextets(ip).slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address, in hex without leading zeros. */
function ipv6Hextets(ip: string): string[] {
  const address = ip.split('%')[0]!.toLowerCase();
  const [head = '', tail] = address.split('::');
  const groups = (part: string) =>
    part === ''
      ? []
      : part.split(':').flatMap((group) => {
          if (!group.includes('.')) return [group];
          // A trailing dotted IPv4 part (e.g. 64:ff9b::192.0.2.1) stands for two groups.
          const [a = 0, b = 0, c = 0, d = 0] = group.split('.').map(Number);
          return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
        });
  const before = groups(head);
  const after = tail === undefined ? [] : groups(tail);
  const zeros = Array.from({ length: 8 - before.length - after.length }, () => '0');
  return [...before, ...zeros, ...after].map((group) => Number.parseInt(group, 16).toString(16));
}
