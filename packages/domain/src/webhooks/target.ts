import { promises as dns } from 'node:dns';
import { DomainError } from '@parley/core';
import ipaddr from 'ipaddr.js';

/**
 * Where a webhook may be sent. A partner chooses the URL, so without these checks the platform
 * would POST on its behalf to anything the servers can reach: the cloud metadata service, the
 * database, an admin port on the private network. Every address a name resolves to is checked,
 * and the delivery connects to the checked address itself, so a name cannot be re-pointed between
 * the check and the connection (DNS rebinding).
 */

export type Resolver = (hostname: string) => Promise<{ address: string; family: 4 | 6 }[]>;

export interface TargetPolicy {
  /** ALLOW_INSECURE_WEBHOOKS: admits http and loopback targets (development and tests), nothing else. */
  allowInsecure: boolean;
  /** Tests inject one so that no name is ever looked up in real DNS. */
  resolver?: Resolver;
}

export interface ResolvedTarget {
  url: URL;
  /** The checked address to connect to; the hostname stays in Host and in TLS SNI. */
  address: string;
  family: 4 | 6;
}

export class WebhookUrlForbiddenError extends DomainError {
  constructor(detail: string) {
    super(400, 'webhook_url_forbidden', 'Bad Request', detail);
    this.name = 'WebhookUrlForbiddenError';
  }
}

/**
 * The name did not resolve. Not a forbidden target as such (DNS may be down for a moment, and
 * every delivery checks again), so callers decide whether to refuse it.
 */
export class WebhookUrlUnresolvableError extends DomainError {
  constructor(hostname: string, cause?: string) {
    super(400, 'webhook_url_unresolvable', 'Bad Request', `The webhook URL's host ${hostname} does not resolve${cause ? ` (${cause})` : ''}.`);
    this.name = 'WebhookUrlUnresolvableError';
  }
}

export const MAX_WEBHOOK_URL_LENGTH = 2048;
/** getaddrinfo retries for long on a dead DNS server; a request to register a URL should not hang with it. */
const RESOLVE_TIMEOUT_MS = 5_000;

export const systemResolver: Resolver = async (hostname) => {
  const answers = await dns.lookup(hostname, { all: true, verbatim: true });
  return answers.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

/** Addresses of instance metadata services; each already falls in a refused range, named for a clear message. */
const METADATA_ADDRESSES = new Set(['169.254.169.254', '169.254.170.2', '169.254.169.253', '100.100.100.200', '192.0.0.192', 'fd00:ec2::254', 'fd00:ec2::23']);

/** Names of metadata services and suffixes reserved for private networks: never a partner's public endpoint. */
const FORBIDDEN_NAMES = new Set(['metadata.google.internal', 'metadata.goog', 'metadata', 'instance-data', 'instance-data.ec2.internal']);
const PRIVATE_SUFFIXES = ['.internal', '.local', '.localdomain', '.home.arpa', '.arpa', '.lan', '.intranet', '.corp'];

const V4_RANGE_NAMES: Record<string, string> = {
  unspecified: 'an unspecified address (0.0.0.0/8)',
  broadcast: 'the broadcast address',
  multicast: 'a multicast address (224.0.0.0/4)',
  linkLocal: 'a link-local address (169.254.0.0/16)',
  loopback: 'a loopback address (127.0.0.0/8)',
  carrierGradeNat: 'a carrier-grade NAT address (100.64.0.0/10)',
  private: 'a private address (10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16)',
  reserved: 'a reserved address (IETF protocol assignments, documentation, benchmarking or future use)',
  as112: 'an AS112 (DNS sink) address',
  amt: 'an AMT relay address',
};

const V6_RANGE_NAMES: Record<string, string> = {
  unspecified: 'the unspecified address (::)',
  linkLocal: 'a link-local address (fe80::/10)',
  multicast: 'a multicast address (ff00::/8)',
  loopback: 'the loopback address (::1)',
  uniqueLocal: 'a unique-local address (fc00::/7)',
  ipv4Mapped: 'an IPv4-mapped address (::ffff:0:0/96)',
  rfc6145: 'an IPv4-translated address (::ffff:0:0:0/96)',
  deprecatedSiteLocal: 'a site-local address (fec0::/10)',
  discard: 'a discard-only address (100::/64)',
  benchmarking: 'a benchmarking address (2001:2::/48)',
  amt: 'an AMT address (2001:3::/32)',
  as112v6: 'an AS112 (DNS sink) address',
  deprecatedOrchid: 'an ORCHID address',
  orchid2: 'an ORCHIDv2 address',
  droneRemoteIdProtocolEntityTags: 'a DRIP entity tag',
  segmentRouting: 'a segment-routing SID (5f00::/16)',
  reserved: 'a reserved or documentation address',
};

const GLOBAL_UNICAST_V6 = ipaddr.IPv6.parseCIDR('2000::/3');
const IPV4_COMPATIBLE_V6 = ipaddr.IPv6.parseCIDR('::/96');
const NAT64_WELL_KNOWN = ipaddr.IPv6.parseCIDR('64:ff9b::/96');

type Address = ipaddr.IPv4 | ipaddr.IPv6;

function v4FromWords(high: number, low: number): ipaddr.IPv4 {
  return new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);
}

/** Why an IPv4 address may not be a target, or null if it may. */
function v4Refusal(addr: ipaddr.IPv4, allowLoopback: boolean): string | null {
  const range = addr.range() as string;
  if (range === 'unicast') return null;
  if (range === 'loopback' && allowLoopback) return null;
  if (METADATA_ADDRESSES.has(addr.toString())) return 'a cloud metadata address';
  return V4_RANGE_NAMES[range] ?? `a special-purpose address (${range})`;
}

/**
 * Why an IPv6 address may not be a target, or null if it may. Only global unicast (2000::/3) is
 * admitted, and the transition formats that carry an IPv4 address are judged by that address, so
 * 64:ff9b::10.0.0.1 is as private as 10.0.0.1.
 */
function v6Refusal(addr: ipaddr.IPv6, allowLoopback: boolean): string | null {
  const text = addr.toString();
  if (METADATA_ADDRESSES.has(text)) return 'a cloud metadata address';
  const range = addr.range() as string;
  if (range === 'loopback') return allowLoopback ? null : V6_RANGE_NAMES.loopback!;
  if (range === 'unspecified') return V6_RANGE_NAMES.unspecified!;
  // Deprecated ::a.b.c.d; ipaddr.js counts it as plain unicast.
  if (addr.match(IPV4_COMPATIBLE_V6)) return 'an IPv4-compatible address (::/96)';
  const embedded = (v4: ipaddr.IPv4, what: string): string | null => {
    const inner = v4Refusal(v4, false);
    return inner ? `${what} embedding ${v4.toString()}, ${inner}` : null;
  };
  const p = addr.parts;
  switch (range) {
    case 'rfc6052':
      // The well-known NAT64 prefix puts the IPv4 address in the last 32 bits; the local-use
      // prefix 64:ff9b:1::/48 (RFC 8215) may embed it anywhere, so it cannot be judged.
      if (addr.match(NAT64_WELL_KNOWN)) return embedded(v4FromWords(p[6]!, p[7]!), 'a NAT64 address (64:ff9b::/96)');
      return 'a local-use NAT64 address (64:ff9b:1::/48)';
    case '6to4':
      return embedded(v4FromWords(p[1]!, p[2]!), 'a 6to4 address (2002::/16)');
    case 'teredo':
      // Teredo carries the server's IPv4 in clear and the client's bit-inverted.
      return (
        embedded(v4FromWords(p[2]!, p[3]!), 'a Teredo address (2001::/32) whose server is') ??
        embedded(v4FromWords(~p[6]! & 0xffff, ~p[7]! & 0xffff), 'a Teredo address (2001::/32) whose client is')
      );
    case 'unicast':
      return addr.match(GLOBAL_UNICAST_V6) ? null : 'outside the global unicast range (2000::/3)';
    default:
      return V6_RANGE_NAMES[range] ?? `a special-purpose address (${range})`;
  }
}

/**
 * ipaddr.js reads the IPv4-compatible ::127.0.0.1 as the IPv4-mapped ::ffff:127.0.0.1, so IPv6
 * text goes through the WHATWG URL parser (a correct, canonical spelling) first.
 */
function parseAddress(address: string): Address | null {
  try {
    if (address.includes(':') && !address.includes('%')) return ipaddr.IPv6.parse(new URL(`http://[${address}]/`).hostname.slice(1, -1));
    return ipaddr.parse(address);
  } catch {
    return null;
  }
}

/** Why an address may not be a target under the policy, or null if it may. */
export function addressRefusal(address: string, policy: Pick<TargetPolicy, 'allowInsecure'>): string | null {
  const addr = parseAddress(address);
  if (!addr) return 'not an IP address';
  if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).zoneId) return 'a scoped (zone) address';
  return addr.kind() === 'ipv4' ? v4Refusal(addr as ipaddr.IPv4, policy.allowInsecure) : v6Refusal(addr as ipaddr.IPv6, policy.allowInsecure);
}

/** The URL's host without IPv6 brackets or a trailing root dot. */
function bareHost(url: URL): string {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return host.endsWith('.') ? host.slice(0, -1) : host;
}

/** The host as an IP literal, or null for a name. The URL parser has already turned 2130706433, 0x7f.1 and 0177.0.0.1 into dotted quads. */
function literalAddress(url: URL): Address | null {
  const host = bareHost(url);
  if (url.hostname.startsWith('[')) return ipaddr.IPv6.parse(host);
  return ipaddr.IPv4.isValidFourPartDecimal(host) ? ipaddr.IPv4.parse(host) : null;
}

/**
 * Syntax checks, without DNS: scheme, credentials, length, port, IP literals and names that can
 * only be internal. Throws WebhookUrlForbiddenError saying why.
 */
export function assertWebhookUrlShape(url: string, policy: Pick<TargetPolicy, 'allowInsecure'>): URL {
  if (url.length > MAX_WEBHOOK_URL_LENGTH) throw new WebhookUrlForbiddenError(`The webhook URL is longer than ${MAX_WEBHOOK_URL_LENGTH} characters.`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new WebhookUrlForbiddenError('The webhook URL is not a valid absolute URL.');
  }
  if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && policy.allowInsecure)) {
    throw new WebhookUrlForbiddenError(`The webhook URL must use https (it uses ${parsed.protocol.replace(/:$/, '')}).`);
  }
  if (parsed.username || parsed.password) throw new WebhookUrlForbiddenError('The webhook URL must not carry credentials (user:password@).');
  if (parsed.port === '0') throw new WebhookUrlForbiddenError('The webhook URL must not use port 0.');
  const host = bareHost(parsed);
  if (!host) throw new WebhookUrlForbiddenError('The webhook URL has no host.');
  const literal = literalAddress(parsed);
  if (literal) {
    const why = addressRefusal(literal.toString(), policy);
    if (why) throw new WebhookUrlForbiddenError(`The webhook URL's host ${host} is ${why}.`);
    return parsed;
  }
  if (host.length > 253) throw new WebhookUrlForbiddenError('The webhook URL\'s host name is longer than 253 characters.');
  const isLocalhost = host === 'localhost' || host.endsWith('.localhost');
  if (isLocalhost) {
    if (!policy.allowInsecure) throw new WebhookUrlForbiddenError(`The webhook URL's host ${host} is a loopback name.`);
    return parsed;
  }
  if (FORBIDDEN_NAMES.has(host)) throw new WebhookUrlForbiddenError(`The webhook URL's host ${host} is a cloud metadata service.`);
  const suffix = PRIVATE_SUFFIXES.find((s) => host.endsWith(s));
  if (suffix) throw new WebhookUrlForbiddenError(`The webhook URL's host ${host} is in ${suffix}, a domain for private networks.`);
  // A single label is completed by the resolver's search domains, i.e. inside our own network.
  if (!host.includes('.')) throw new WebhookUrlForbiddenError(`The webhook URL's host ${host} is not a fully qualified name.`);
  return parsed;
}

/**
 * Checks the shape, resolves the name once and refuses it if ANY of its addresses is forbidden (a
 * name answering one public and one private address would otherwise reach the private one on a
 * retry or a reconnect). Returns the first address, which the caller must connect to.
 */
export async function resolveWebhookTarget(url: string, policy: TargetPolicy): Promise<ResolvedTarget> {
  const parsed = assertWebhookUrlShape(url, policy);
  const literal = literalAddress(parsed);
  if (literal) return { url: parsed, address: literal.toString(), family: literal.kind() === 'ipv6' ? 6 : 4 };
  const host = bareHost(parsed);
  let answers: { address: string; family: 4 | 6 }[];
  let timer: NodeJS.Timeout | undefined;
  try {
    answers = await Promise.race([
      (policy.resolver ?? systemResolver)(host),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(Object.assign(new Error('DNS timed out'), { code: 'ETIMEOUT' })), RESOLVE_TIMEOUT_MS);
      }),
    ]);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new WebhookUrlUnresolvableError(host, code ?? (err as Error).message);
  } finally {
    clearTimeout(timer);
  }
  if (answers.length === 0) throw new WebhookUrlUnresolvableError(host, 'no addresses');
  for (const answer of answers) {
    const why = addressRefusal(answer.address, policy);
    if (why) throw new WebhookUrlForbiddenError(`The webhook URL's host ${host} resolves to ${answer.address}, ${why}.`);
  }
  const first = parseAddress(answers[0]!.address)!;
  return { url: parsed, address: first.toString(), family: first.kind() === 'ipv6' ? 6 : 4 };
}
