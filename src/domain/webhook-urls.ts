// Which URLs a webhook may be sent to. A webhook makes this service send requests where a
// client says: without these rules a client could make it reach the cloud's metadata
// service, the database or anything else on the private network (server-side request
// forgery). So: https only, and every address the host name resolves to must be public.
// The same check runs again when a delivery connects (src/webhooks/send.ts), because the
// name may resolve elsewhere by then (DNS rebinding).
import { lookup as dnsLookup } from 'node:dns/promises';
import ipaddr from 'ipaddr.js';
import { DomainError } from './errors.js';

export interface WebhookUrlPolicy {
  /**
   * Private, loopback and link-local addresses, and plain http, are allowed: for tests
   * and for a deployment whose receivers are on its own network (WEBHOOK_ALLOW_PRIVATE_URLS).
   */
  allowPrivate: boolean;
  /** Resolves a host name to its addresses (tests replace it; default: the system resolver). */
  lookup?: (hostname: string) => Promise<string[]>;
}

export const strictUrlPolicy: WebhookUrlPolicy = { allowPrivate: false };

const MAX_URL_LENGTH = 2048;

export const systemLookup = async (hostname: string) => (await dnsLookup(hostname, { all: true, verbatim: true })).map((entry) => entry.address);

const invalid = (message: string) => new DomainError('VALIDATION_FAILED', `url: ${message}`, ['url']);

// Global unicast IPv6: the only IPv6 block handed out for the public internet. Everything
// outside it (::/8 with its IPv4-compatible ::a.b.c.d forms, NAT64's 64:ff9b::/96, the
// unique-local fc00::/7, link-local, multicast, ...) is refused, and ipaddr.js's range()
// names the special blocks inside it (6to4, Teredo, documentation, benchmarking, ORCHID, ...).
const GLOBAL_UNICAST = ipaddr.parseCIDR('2000::/3');

/** Why an address may not be a webhook's target, or undefined when it is a public one. */
export function forbiddenAddressReason(address: string): string | undefined {
  if (!ipaddr.isValid(address)) return `${address} is not an IP address`;
  const parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv4') return ipv4Reason(address, parsed as ipaddr.IPv4);
  const ipv6 = parsed as ipaddr.IPv6;
  // ::ffff:a.b.c.d is the IPv4 address itself as an IPv6 socket writes it: judged as one.
  if (ipv6.isIPv4MappedAddress()) return ipv4Reason(address, ipv6.toIPv4Address());
  const range = ipv6.range();
  // 6to4, Teredo and the like tunnel to an IPv4 address they carry: refused whatever it is.
  if (range !== 'unicast') return `${address} is a ${range} address`;
  return ipv6.match(GLOBAL_UNICAST) ? undefined : `${address} is not a global unicast address`;
}

function ipv4Reason(address: string, ipv4: ipaddr.IPv4): string | undefined {
  const range = ipv4.range();
  // Everything but ordinary public unicast: private, loopback, link-local, carrier-grade
  // NAT, multicast, documentation, benchmarking, reserved and the like.
  return range === 'unicast' ? undefined : `${address} is a ${range} address`;
}

/** The host of a URL as an address when it is one ([::1] → ::1), else undefined. */
function literalAddress(hostname: string): string | undefined {
  const bare = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  return ipaddr.isValid(bare) ? bare : undefined;
}

/** Checks a webhook URL against the policy and returns it normalized; VALIDATION_FAILED otherwise. */
export async function checkWebhookUrl(raw: string, policy: WebhookUrlPolicy): Promise<string> {
  if (raw.length > MAX_URL_LENGTH) throw invalid(`must be at most ${MAX_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalid('must be an absolute URL such as https://example.com/webhooks');
  }
  const schemes = policy.allowPrivate ? ['https:', 'http:'] : ['https:'];
  if (!schemes.includes(url.protocol)) {
    throw invalid(policy.allowPrivate ? 'must be an http or https URL' : 'must be an https URL');
  }
  if (url.username || url.password) throw invalid('must not carry a user name or password');
  if (url.hash) throw invalid('must not have a fragment (#...)');
  if (!policy.allowPrivate) await assertPublicHost(url.hostname, policy);
  return url.toString();
}

async function assertPublicHost(hostname: string, policy: WebhookUrlPolicy): Promise<void> {
  const literal = literalAddress(hostname);
  if (literal) {
    // The client wrote the address: saying what it is tells nothing it does not know.
    const reason = forbiddenAddressReason(literal);
    if (reason) throw invalid(`must point at a public address; ${reason}`);
    return;
  }
  let addresses: string[] = [];
  try {
    addresses = await (policy.lookup ?? systemLookup)(hostname);
  } catch {
    // Answered as a name resolving to a private address is: which internal names exist is
    // not the client's to learn.
  }
  // Every address: a name resolving to one public and one private address would otherwise
  // reach the private one whenever the connection picks it. What a name resolves to is never
  // told: the refusal would map the private network for whoever asks.
  if (!addresses.length || addresses.some((address) => forbiddenAddressReason(address))) {
    throw invalid(`must point at a public address; the host name ${hostname} must resolve, and only to public addresses`);
  }
}
