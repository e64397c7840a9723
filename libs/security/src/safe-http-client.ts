import * as dns from 'node:dns';
import * as http from 'node:http';
import * as https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Inject, Injectable, Optional } from '@nestjs/common';
import ipaddr from 'ipaddr.js';
import { RequestFilteringHttpAgent, RequestFilteringHttpsAgent } from 'request-filtering-agent';
import { AppConfig, ConfigError } from '@benteng/config';

/**
 * Outbound HTTP to addresses a tenant chose (webhook endpoints), safe against server-side request
 * forgery: a tenant must not be able to make Benteng talk to its own network, the cloud metadata
 * service or anything else that trusts "requests from inside".
 *
 * The check that counts happens when the socket connects, on the very address it connects to.
 * Checking a URL's host name when it is saved, or resolving it before the request, is not enough:
 * the name's owner controls its DNS and can answer a public address to the check and 127.0.0.1 to
 * the connection a moment later (DNS rebinding). So every connection goes through two layers that
 * both must let the address through:
 *
 * 1. `guardedLookup`, our own: every request's host name is resolved through it (`post`, once per
 *    request, also when a kept-alive connection exists), it asks for every address of the name and
 *    refuses the request when any answer is not a public unicast address (`addressAllowed`); the
 *    connection then goes to the literal address it checked. It is the one that knows EGRESS_ALLOW_PRIVATE and the extra rules below.
 * 2. request-filtering-agent, wrapped around that lookup by its http(s).Agent subclasses: it
 *    refuses every address whose ipaddr.js range is not `unicast` (loopback, private, link-local,
 *    CGNAT, multicast, broadcast, unspecified, IPv4-mapped, NAT64, 6to4, Teredo, documentation and
 *    reserved ranges), in the lookup and, for a literal IP (what `post` connects to), in
 *    `createConnection`, when the socket connects. EGRESS_ALLOW_PRIVATE is passed on as its `allowIPAddressList`.
 *
 * Literal IPs in a URL are refused before any socket exists (`assertDeliverableUrl`, which `post`
 * runs first), and again by the agent's `createConnection`.
 *
 * Redirects are never followed (node's http client does not follow them): a 3xx comes back as an
 * ordinary response and the caller counts it as a failed delivery, as Svix and Stripe do. Following
 * one would send the request to an address the tenant never had checked, and a 302 to
 * http://169.254.169.254/ is the classic way around an SSRF filter.
 */

/** What the receiver answered. */
export interface EgressResponse {
  readonly status: number;
  /** Lower-case names; repeated headers joined with ", " as node does (set-cookie too). */
  readonly headers: Record<string, string>;
  /** UTF-8 decoding of at most `maxBytes` bytes of the body; a character cut at the limit is dropped. */
  readonly body: string;
  /** True when the body was longer than `maxBytes`; the rest was not read and the connection was closed. */
  readonly truncated: boolean;
  /** From the start of `post` to the end of the body (or the truncation). */
  readonly latencyMs: number;
}

export type EgressErrorReason =
  | 'blocked_address'
  | 'invalid_url'
  | 'https_required'
  | 'timeout'
  | 'connect_failed'
  | 'redirect_refused'
  | 'too_large'
  | 'tls'
  | 'dns';

/**
 * Why an outbound request did not produce a response. Messages never contain the URL, host or
 * address: they end up in delivery logs that the tenant (and an attacker probing the network with
 * webhook URLs) can read, and "connection refused from 10.0.0.7" would be the scan result.
 *
 * `post` never throws `redirect_refused` (a 3xx is returned as a response); the reason exists for
 * callers that turn such a response into a failed attempt with a reason.
 */
export class EgressError extends Error {
  override readonly name = 'EgressError';
  constructor(
    readonly reason: EgressErrorReason,
    message: string,
  ) {
    super(message);
  }
}

/** Optional overrides of WEBHOOK_TIMEOUT_MS and WEBHOOK_RESPONSE_MAX_BYTES for one request. */
export interface EgressRequestOptions {
  readonly timeoutMs?: number;
  readonly maxBytes?: number;
}

/**
 * Test seam: the DNS lookup the guarded lookup asks (default `dns.lookup`). Replacing it changes
 * what a name resolves to, never whether the answer is checked: both layers judge its answers.
 */
export const EGRESS_DNS_LOOKUP = Symbol('EGRESS_DNS_LOOKUP');

/** Longest URL accepted (the webhook DTO may be stricter). */
export const EGRESS_MAX_URL_LENGTH = 2048;
/** How long a kept-alive connection to a receiver may sit idle before it is closed. */
export const EGRESS_IDLE_SOCKET_MS = 2_000;
/** Largest response head (status line + headers) read before giving up with `too_large`. */
export const EGRESS_MAX_HEADER_BYTES = 16_384;

/**
 * Ports no browser will connect to (WHATWG Fetch, "bad port"): SMTP, IRC, SIP, NFS and the like.
 * An HTTP request to them is a cross-protocol attack (an HTTP body read as SMTP commands), never
 * a webhook receiver. Other ports stay allowed, also in production: the destination address is the
 * control, and receivers on :8443 or :8080 are common and legitimate.
 */
const BAD_PORTS = new Set([
  0, 1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104, 109, 110, 111,
  113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465, 512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554,
  556, 563, 587, 601, 636, 989, 990, 993, 995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666,
  6667, 6668, 6669, 6679, 6697, 10080,
]);

/** The only IPv6 block allocated for global unicast (RFC 4291 §2.4); the rest is reserved or special. */
const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR('2000::/3');

type Cidr = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** Which destinations are allowed: public unicast addresses, plus EGRESS_ALLOW_PRIVATE. */
export interface AddressPolicy {
  /** EGRESS_ALLOW_PRIVATE as parsed ranges (empty in production: config validation refuses it). */
  readonly allow: readonly Cidr[];
}

/**
 * EGRESS_ALLOW_PRIVATE as ranges. A plain address counts as /32 or /128. Entries are read strictly
 * (node's isIP: no `127.1`, no octal) and a /0 range is refused, since it would switch the whole
 * control off. Errors name the entry's position, never its value (libs/config's rule).
 */
export function egressAllowList(config: AppConfig): Cidr[] {
  return config.EGRESS_ALLOW_PRIVATE.split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
    .map((entry, index) => {
      const [address = '', prefix, ...rest] = entry.split('/');
      const family = isIP(address);
      const max = family === 4 ? 32 : 128;
      const bits = prefix === undefined ? max : /^\d{1,3}$/.test(prefix) ? Number(prefix) : Number.NaN;
      if (family === 0 || rest.length > 0 || !(bits >= 1 && bits <= max)) {
        throw new ConfigError([
          { variable: 'EGRESS_ALLOW_PRIVATE', rule: `entry ${index + 1} is not an IP address or CIDR range with a prefix length of at least 1` },
        ]);
      }
      return [ipaddr.parse(address), bits] satisfies Cidr;
    });
}

/**
 * Whether a connection to `ip` is allowed. An address in EGRESS_ALLOW_PRIVATE is allowed (matched
 * within its own family: `::ffff:127.0.0.1` is not 127.0.0.1 here, as for the agent), except the
 * unspecified addresses 0.0.0.0/8 and `::`, which reach the local machine and are never allowed.
 * Otherwise only public unicast: ipaddr.js's `unicast` range (the complement of its special
 * ranges, the same rule as request-filtering-agent) and, for IPv6, also inside 2000::/3, which
 * shuts out the IPv4-compatible `::a.b.c.d` block and unallocated space that ipaddr.js counts as
 * unicast. IPv4-mapped (`::ffff:a.b.c.d`) and other IPv4-embedding forms (NAT64 64:ff9b::/96 and
 * 64:ff9b:1::/48, 6to4, Teredo) are special ranges, so they are refused whatever IPv4 address
 * they carry: a public receiver publishes an A record, not a mapped AAAA. Zone ids (`fe80::1%eth0`)
 * and anything that does not parse are refused.
 */
export function addressAllowed(ip: string, policy: AddressPolicy): boolean {
  if (isIP(ip) === 0 || ip.includes('%')) return false;
  const address = ipaddr.parse(ip);
  const range = address.range();
  if (range === 'unspecified') return false;
  if (policy.allow.some(([network, bits]) => network.kind() === address.kind() && address.match(network, bits))) return true;
  if (range !== 'unicast') return false;
  return address.kind() === 'ipv4' || address.match(GLOBAL_UNICAST_V6);
}

/** The URL's host as a socket takes it: an IPv6 literal without its brackets. */
function socketHost(url: URL): string {
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
}

/**
 * The checks that need no DNS: scheme, credentials, https in production, port, literal address.
 * A host name passes here whatever it resolves to today; the connect-time check is the real one.
 */
export function checkUrl(input: string, production: boolean, policy: AddressPolicy): URL {
  if (input.length > EGRESS_MAX_URL_LENGTH) throw new EgressError('invalid_url', `The URL is longer than ${EGRESS_MAX_URL_LENGTH} characters.`);
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new EgressError('invalid_url', 'The URL is not a valid absolute URL.');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new EgressError('invalid_url', 'The URL must use http or https.');
  // Credentials in a URL would be sent to whoever the host is and stored in clear with the endpoint.
  if (url.username !== '' || url.password !== '') throw new EgressError('invalid_url', 'The URL must not contain a user name or password.');
  if (url.hostname === '') throw new EgressError('invalid_url', 'The URL has no host.');
  if (production && url.protocol !== 'https:') throw new EgressError('https_required', 'The URL must use https.');
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
  if (BAD_PORTS.has(port)) throw new EgressError('blocked_address', 'The URL uses a port that is not allowed.');
  // The WHATWG parser has already turned 2130706433, 0x7f.1 and 127.1 into 127.0.0.1.
  const host = socketHost(url);
  if (isIP(host) !== 0 && !addressAllowed(host, policy)) throw new EgressError('blocked_address', 'The URL points to an address that is not allowed.');
  return url;
}

/**
 * Wraps a DNS lookup so the socket that uses it can only connect to allowed addresses. It always
 * asks for every address (`all: true`) and refuses the name when any of them is not allowed, so
 * happy-eyeballs cannot fall back to the private one. It answers in the shape the socket asked for.
 */
export function guardedLookup(lookup: LookupFunction, policy: AddressPolicy): LookupFunction {
  return (hostname, options, callback) => {
    lookup(hostname, { ...options, all: true }, (error, answer, family) => {
      if (error) return callback(error, '');
      const addresses: dns.LookupAddress[] = Array.isArray(answer) ? answer : [{ address: answer, family: family ?? isIP(answer) }];
      const first = addresses[0];
      if (first === undefined) return callback(Object.assign(new Error('No address found.'), { code: 'ENOTFOUND' }), '');
      if (!addresses.every(({ address }) => addressAllowed(address, policy))) {
        return callback(new EgressError('blocked_address', 'The host resolves to an address that is not allowed.'), '');
      }
      if (options.all) return callback(null, addresses);
      return callback(null, first.address, first.family);
    });
  };
}

/**
 * The agent options both layers share; exported so each layer can be tested on its own. The agent
 * wraps the `lookup` given here, so our guard answers first and the agent judges what it lets
 * through. EGRESS_ALLOW_PRIVATE reaches the agent as CIDRs: it matches every entry against every
 * address and, where the families differ, logs a console warning and moves on, so an allow list
 * that mixes IPv4 and IPv6 (development only: production refuses any) makes it chatty, not wrong.
 */
export function egressAgentOptions(policy: AddressPolicy, lookup: LookupFunction): http.AgentOptions & { allowIPAddressList: string[]; lookup: LookupFunction } {
  return {
    // Keep-alive, pooled per checked address: `post` resolves the name through the guarded lookup
    // for every request and connects to the literal address it checked, so the pool's key is that
    // address and a pooled socket is reused only when a fresh lookup gave the very address it was
    // opened to. Idle sockets close after EGRESS_IDLE_SOCKET_MS.
    keepAlive: true,
    timeout: EGRESS_IDLE_SOCKET_MS,
    lookup: guardedLookup(lookup, policy),
    allowIPAddressList: policy.allow.map(([network, bits]) => `${network.toString()}/${bits}`),
  };
}

const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NODATA', 'EAI_NONAME', 'ENODATA']);
/** request-filtering-agent's refusals are plain Errors; this is how its messages end. */
const AGENT_REFUSAL = /is not allowed\. Because/;

/** Every failure as an EgressError with a reason and a message that names no address (exported for its spec). */
export function classifyEgressFailure(error: unknown): EgressError {
  if (error instanceof EgressError) return error;
  const { code, message } = error as NodeJS.ErrnoException;
  if (typeof message === 'string' && AGENT_REFUSAL.test(message)) return new EgressError('blocked_address', 'The host resolves to an address that is not allowed.');
  if (code !== undefined && DNS_CODES.has(code)) return new EgressError('dns', 'The host name could not be resolved.');
  if (code === 'HPE_HEADER_OVERFLOW') return new EgressError('too_large', `The response headers exceed ${EGRESS_MAX_HEADER_BYTES} bytes.`);
  if (code !== undefined && /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_MISMATCH)/.test(code)) {
    return new EgressError('tls', 'The TLS handshake failed or the certificate was not accepted.');
  }
  return new EgressError('connect_failed', 'The connection failed or was closed before a complete response.');
}

/** A kept-alive socket that turned out closed before any response: the request may be sent again once. */
class StaleSocket extends Error {
  constructor(override readonly cause: unknown) {
    super('stale keep-alive socket');
  }
}

/** Headers the client sets itself: a caller's value would contradict the body it sends (or the keep-alive pool). */
const OWN_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive']);

function responseHeaders(headers: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

@Injectable()
export class SafeHttpClient {
  private readonly production: boolean;
  private readonly policy: AddressPolicy;
  private readonly httpAgent: RequestFilteringHttpAgent;
  private readonly httpsAgent: RequestFilteringHttpsAgent;
  private readonly resolve: LookupFunction;

  constructor(
    private readonly config: AppConfig,
    @Optional() @Inject(EGRESS_DNS_LOOKUP) lookup?: LookupFunction,
  ) {
    this.production = config.NODE_ENV === 'production';
    this.policy = { allow: egressAllowList(config) };
    const options = egressAgentOptions(this.policy, lookup ?? (dns.lookup as LookupFunction));
    this.resolve = options.lookup;
    this.httpAgent = new RequestFilteringHttpAgent(options);
    this.httpsAgent = new RequestFilteringHttpsAgent({ ...options, minVersion: 'TLSv1.2' });
  }

  /**
   * Throws EgressError('invalid_url' | 'https_required' | 'blocked_address') for a URL that can never
   * be delivered to: not http(s), credentials in it, http in production, a bad port (see BAD_PORTS),
   * a literal address that is not allowed. Used when a tenant saves an endpoint. A host name is not
   * resolved: its DNS can change after the check, so the connect-time check in `post` is the one
   * that protects; this one gives the tenant an early, clear answer.
   */
  assertDeliverableUrl(url: string): void {
    checkUrl(url, this.production, this.policy);
  }

  /**
   * POSTs `body` to `url` and resolves with the response, whatever its status; a 3xx is returned as
   * is and never followed (the caller counts it as a failure). Rejects with an EgressError when
   * there is no response: the URL checks of `assertDeliverableUrl`, an address refused at connect
   * time (`blocked_address`), DNS, TLS, connection failures, the deadline (`timeout`, covering
   * connect, request and the whole response) or response headers over EGRESS_MAX_HEADER_BYTES
   * (`too_large`). A body longer than `maxBytes` is not an error: it is cut, `truncated` is set and
   * the connection is closed without reading the rest.
   */
  async post(url: string, body: string, headers: Record<string, string>, options: EgressRequestOptions = {}): Promise<EgressResponse> {
    const target = checkUrl(url, this.production, this.policy);
    const timeoutMs = options.timeoutMs ?? this.config.WEBHOOK_TIMEOUT_MS;
    const maxBytes = options.maxBytes ?? this.config.WEBHOOK_RESPONSE_MAX_BYTES;
    const started = performance.now();
    const deadline = started + timeoutMs;
    const requestHeaders: Record<string, string | number> = {};
    for (const [name, value] of Object.entries(headers)) {
      if (!OWN_HEADERS.has(name.toLowerCase())) requestHeaders[name] = value;
    }
    const payload = Buffer.from(body, 'utf8');
    requestHeaders['content-length'] = payload.length;
    requestHeaders['host'] = target.host;
    // The name is resolved here, for this request, through the guarded lookup (every address must
    // be allowed), and the connection goes to the literal address it checked: the agent checks that
    // address again when it connects (request-filtering-agent's createConnection), and pools
    // sockets by it, so keep-alive never reuses a socket for an address this lookup did not give.
    const address = await this.addressOf(socketHost(target), deadline);
    const send = (retried: boolean): Promise<EgressResponse> =>
      this.send(target, address, requestHeaders, payload, maxBytes, started, deadline, timeoutMs).catch((error: unknown) => {
        // A kept-alive socket the receiver closed just as it was reused: once more on a fresh one.
        if (!retried && error instanceof StaleSocket) return send(true);
        throw classifyEgressFailure(error instanceof StaleSocket ? error.cause : error);
      });
    return send(false);
  }

  /** The name's first address after the guarded lookup allowed all of them (a literal IP as is: checkUrl judged it). */
  private addressOf(host: string, deadline: number): Promise<string> {
    if (isIP(host) !== 0) return Promise.resolve(host);
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new EgressError('timeout', 'No complete response in time.')), Math.max(0, deadline - performance.now()));
      this.resolve(host, { all: true }, (error, answer) => {
        clearTimeout(timer);
        if (error) return reject(classifyEgressFailure(error));
        const first = Array.isArray(answer) ? answer[0]?.address : answer;
        if (!first) return reject(new EgressError('dns', 'The host name could not be resolved.'));
        resolve(first);
      });
    });
  }

  private send(target: URL, address: string, headers: Record<string, string | number>, payload: Buffer, maxBytes: number, started: number, deadline: number, timeoutMs: number): Promise<EgressResponse> {
    const secure = target.protocol === 'https:';
    const name = socketHost(target);
    return new Promise<EgressResponse>((resolve, reject) => {
      let settled = false;
      let responded = false;
      const request = (secure ? https : http).request({
        protocol: target.protocol,
        hostname: address,
        // TLS: the certificate is checked against the URL's name (SNI too), not the address.
        ...(secure && isIP(name) === 0 ? { servername: name } : {}),
        port: target.port === '' ? undefined : Number(target.port),
        path: `${target.pathname}${target.search}`,
        method: 'POST',
        headers,
        agent: secure ? this.httpsAgent : this.httpAgent,
        maxHeaderSize: EGRESS_MAX_HEADER_BYTES,
      });
      // One deadline for lookup, connect, upload and the whole response: a receiver that trickles
      // its answer one byte at a time must not hold a worker longer than WEBHOOK_TIMEOUT_MS.
      const timer = setTimeout(() => fail(new EgressError('timeout', `No complete response within ${timeoutMs} ms.`)), Math.max(0, deadline - performance.now()));
      const settle = (outcome: () => void, keepSocket: boolean) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        outcome();
        // A cut body, a timeout or an error: the connection is done and must not keep reading or
        // go back to the pool. A complete response leaves the socket to the keep-alive pool.
        if (!keepSocket) request.destroy();
      };
      const fail = (error: unknown) => {
        const code = (error as NodeJS.ErrnoException).code;
        const stale = request.reusedSocket && !responded && (code === 'ECONNRESET' || code === 'EPIPE');
        settle(() => reject(stale ? new StaleSocket(error) : error), false);
      };

      request.on('error', fail);
      request.on('response', (response) => {
        responded = true;
        const chunks: Buffer[] = [];
        let received = 0;
        const finish = (truncated: boolean) =>
          settle(
            () =>
              resolve({
                status: response.statusCode ?? 0,
                headers: responseHeaders(response.headers),
                // On a cut body, `stream` holds back a multi-byte character split by the limit
                // instead of decoding it as U+FFFD.
                body: new TextDecoder('utf-8').decode(Buffer.concat(chunks), { stream: truncated }),
                truncated,
                latencyMs: Math.round(performance.now() - started),
              }),
            !truncated,
          );
        response.on('data', (chunk: Buffer) => {
          if (settled) return;
          const room = maxBytes - received;
          if (chunk.length > room) {
            // The rest of a huge body is neither read nor waited for (settle closes the socket).
            chunks.push(chunk.subarray(0, room));
            return finish(true);
          }
          chunks.push(chunk);
          received += chunk.length;
        });
        response.on('end', () => finish(false));
        response.on('error', fail);
      });
      request.end(payload);
    });
  }
}
