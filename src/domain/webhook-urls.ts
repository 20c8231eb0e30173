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

/** Why an address may not be a webhook's target, or undefined when it is a public one. */
export function forbiddenAddressReason(address: string): string | undefined {
  if (!ipaddr.isValid(address)) return `${address} is not an IP address`;
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) {
    parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  }
  const range = parsed.range();
  // Everything but ordinary public unicast: private, loopback, link-local, unique-local,
  // carrier-grade NAT, multicast, reserved, NAT64 and the like.
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
  let addresses: string[];
  if (literal) {
    addresses = [literal];
  } else {
    try {
      addresses = await (policy.lookup ?? systemLookup)(hostname);
    } catch {
      throw invalid(`the host name ${hostname} does not resolve`);
    }
    if (!addresses.length) throw invalid(`the host name ${hostname} does not resolve`);
  }
  // Every address: a name resolving to one public and one private address would otherwise
  // reach the private one whenever the connection picks it.
  for (const address of addresses) {
    const reason = forbiddenAddressReason(address);
    if (reason) {
      throw invalid(`must point at a public address; ${literal ? '' : `${hostname} resolves to `}${reason}`);
    }
  }
}
