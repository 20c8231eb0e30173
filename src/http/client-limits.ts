// Budgets per client address, for what an API key's own rate cannot see: keys that do
// not authenticate (guessing, or a stale key retried in a loop) and requests without a
// key. The address is the connection's peer; X-Forwarded-For counts only when the peer is
// a proxy listed in TRUST_PROXY, or any client could pick an address per request.
import type { IncomingMessage } from 'node:http';
import type { Redis } from 'ioredis';
import ipaddr from 'ipaddr.js';
import proxyAddr from 'proxy-addr';
import type { ClientConnection } from '../request/client-connection.js';
import { type Budget, createBudget } from './rate-limit.js';

export interface ClientLimitsOptions {
  /** Look-ups of keys not known to be valid, per address per minute; 0 = no limit. */
  authFailuresPerMinute: number;
  /** Requests without a key (health and metrics aside), per address per minute; 0 = no limit. */
  keylessPerMinute: number;
  /** Proxies whose X-Forwarded-For is believed: addresses, subnets, or proxy-addr's names. */
  trustProxy?: readonly string[];
  /** Shares the counts between instances, as the per-key rate does. */
  redis?: Redis;
  keyPrefix?: string;
}

export interface ClientLimits {
  /** Whom a request is counted against: undefined when the connection is not known. */
  addressOf(connection: ClientConnection | undefined, headers: Headers): string | undefined;
  /** Spent by each key looked up that is not known to be valid; a valid one is given back. */
  keyLookups?: Budget;
  keyless?: Budget;
}

export function createClientLimits(options: ClientLimitsOptions): ClientLimits {
  const prefix = options.keyPrefix ?? 'flowgw';
  const budget = (perMinute: number, name: string) =>
    perMinute > 0 ? createBudget({ perMinute, redis: options.redis, keyPrefix: `${prefix}-${name}` }) : undefined;
  const trusted = options.trustProxy?.length ? proxyAddr.compile([...options.trustProxy]) : undefined;

  return {
    keyLookups: budget(options.authFailuresPerMinute, 'auth-failures'),
    keyless: budget(options.keylessPerMinute, 'keyless'),
    addressOf(connection, headers) {
      const peer = connection?.remoteAddress;
      if (!peer) return undefined;
      if (!trusted) return bucketOf(peer);
      const forwardedFor = headers.get('x-forwarded-for') ?? undefined;
      const request = { headers: { 'x-forwarded-for': forwardedFor }, socket: { remoteAddress: peer } };
      return bucketOf(proxyAddr(request as unknown as IncomingMessage, trusted));
    },
  };
}

/** Throws when a TRUST_PROXY entry is neither an address, a subnet nor a known name. */
export function checkTrustProxy(entries: readonly string[]): void {
  proxyAddr.compile([...entries]);
}

// One IPv6 host usually holds a whole /64: counting its addresses one by one would give
// it 2^64 budgets. IPv4-mapped IPv6 addresses are the IPv4 client they map.
function bucketOf(address: string): string {
  if (!ipaddr.isValid(address)) return address;
  const parsed = ipaddr.process(address);
  if (parsed.kind() === 'ipv4') return parsed.toString();
  return `${ipaddr.IPv6.networkAddressFromCIDR(`${parsed.toString()}/64`).toString()}/64`;
}
