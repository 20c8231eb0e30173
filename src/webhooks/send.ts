// One HTTP attempt of a webhook delivery. The address is checked again here, on the
// connection itself (the lookup the socket uses), not only when the endpoint was saved:
// a host name may resolve to a private address by now (DNS rebinding). Redirects are
// not followed: a 3xx is a failed attempt.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import type { AttemptOutcome } from '../domain/webhook-deliveries.js';
import { forbiddenAddressReason } from '../domain/webhook-urls.js';
import ipaddr from 'ipaddr.js';

export interface SendOptions {
  timeoutMs: number;
  /** Private, loopback and link-local targets allowed (WEBHOOK_ALLOW_PRIVATE_URLS). */
  allowPrivate: boolean;
}

/** Resolves like the system does, and refuses the connection if any address is not public. */
const publicOnlyLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
    if (error) return callback(error, '', 0);
    for (const { address } of addresses) {
      const reason = forbiddenAddressReason(address);
      if (reason) return callback(new Error(`refused to connect: ${hostname} now resolves to ${reason}`), '', 0);
    }
    if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
    const [first] = addresses;
    if (!first) return callback(new Error(`${hostname} resolves to no address`), '', 0);
    callback(null, first.address, first.family);
  });
};

export function sendWebhook(url: string, headers: Record<string, string>, body: string, options: SendOptions): Promise<AttemptOutcome> {
  return new Promise((resolve) => {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      return resolve({ delivered: false, error: 'the endpoint URL is not valid' });
    }
    if (!options.allowPrivate) {
      if (target.protocol !== 'https:') return resolve({ delivered: false, error: 'the endpoint URL is not https' });
      const host = target.hostname.replace(/^\[|\]$/g, '');
      const reason = ipaddr.isValid(host) ? forbiddenAddressReason(host) : undefined;
      if (reason) return resolve({ delivered: false, error: `refused to connect: ${reason}` });
    }
    const client = target.protocol === 'https:' ? https : http;
    let settled = false;
    const settle = (outcome: AttemptOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const request = client.request(target, {
      method: 'POST',
      headers: { ...headers, 'content-length': String(Buffer.byteLength(body)), 'user-agent': 'flow-run-gateway-webhooks' },
      ...(!options.allowPrivate && { lookup: publicOnlyLookup }),
    });
    // The whole attempt, connection included, has timeoutMs to be answered.
    const timer = setTimeout(() => {
      request.destroy();
      settle({ delivered: false, error: `no answer within ${options.timeoutMs} ms` });
    }, options.timeoutMs);
    request.on('response', (response) => {
      // The answer's body means nothing to the delivery: read and dropped.
      response.resume();
      const status = response.statusCode ?? 0;
      settle(
        status >= 200 && status < 300
          ? { delivered: true, responseStatus: status }
          : { delivered: false, responseStatus: status, error: `the endpoint answered ${status}` },
      );
    });
    request.on('error', (error) => settle({ delivered: false, error: error.message }));
    request.end(body);
  });
}
