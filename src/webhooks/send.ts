// One HTTP attempt of a webhook delivery. The address is checked again here, on the
// connection itself (the lookup the socket uses), not only when the endpoint was saved:
// a host name may resolve to a private address by now (DNS rebinding). Redirects are
// not followed: a 3xx is a failed attempt.
//
// A failure is reported as a category (AttemptFailure), its detail only for the log. The
// whole attempt, the answer's body included, lasts at most timeoutMs, and at most
// MAX_RESPONSE_BODY_BYTES of the body are read (and dropped): a receiver can neither hold a
// delivery slot for longer nor make this service read without end.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction, Socket } from 'node:net';
import ipaddr from 'ipaddr.js';
import type { AttemptFailure, AttemptOutcome } from '../domain/webhook-deliveries.js';
import { forbiddenAddressReason } from '../domain/webhook-urls.js';

/** The most of an answer's body read; the connection is closed beyond it. */
export const MAX_RESPONSE_BODY_BYTES = 64 * 1024;

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

// Node's and OpenSSL's codes for a handshake or certificate that failed.
const TLS_ERROR_CODE = /^(ERR_TLS_|ERR_SSL_|ERR_OSSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_MISMATCH|EPROTO$)/;

const refused = (detail: string): AttemptOutcome => ({ delivered: false, error: 'refused', detail });

export function sendWebhook(url: string, headers: Record<string, string>, body: string, options: SendOptions): Promise<AttemptOutcome> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return Promise.resolve(refused('the endpoint URL is not valid'));
  }
  if (!options.allowPrivate) {
    if (target.protocol !== 'https:') return Promise.resolve(refused('the endpoint URL is not https'));
    const host = target.hostname.replace(/^\[|\]$/g, '');
    const reason = ipaddr.isValid(host) ? forbiddenAddressReason(host) : undefined;
    if (reason) return Promise.resolve(refused(`refused to connect: ${reason}`));
  }
  const secure = target.protocol === 'https:';
  return new Promise((resolve) => {
    // What the status line said, once it came: the outcome, whatever the body does after it.
    let answered: AttemptOutcome | undefined;
    let settled = false;
    // A TLS socket that connected but has not finished its handshake: an error now is TLS's.
    let handshaking = false;
    const settle = (outcome: AttemptOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const request = (secure ? https : http).request(target, {
      method: 'POST',
      headers: { ...headers, 'content-length': String(Buffer.byteLength(body)), 'user-agent': 'flow-run-gateway-webhooks' },
      ...(!options.allowPrivate && { lookup: publicOnlyLookup }),
    });
    // The whole attempt, from the lookup to the body's end, has timeoutMs.
    const timer = setTimeout(() => {
      settle(answered ?? { delivered: false, error: 'timed out', detail: `no answer within ${options.timeoutMs} ms` });
      request.destroy();
    }, options.timeoutMs);
    request.on('socket', (socket: Socket) => {
      if (!secure || !socket.connecting) return;
      socket.once('connect', () => (handshaking = true));
      socket.once('secureConnect', () => (handshaking = false));
    });
    request.on('response', (response) => {
      const status = response.statusCode ?? 0;
      const outcome: AttemptOutcome =
        status >= 200 && status < 300
          ? { delivered: true, responseStatus: status }
          : { delivered: false, responseStatus: status, error: `HTTP ${status}` as AttemptFailure };
      answered = outcome;
      // The body means nothing to the delivery: read, up to the bound, and dropped.
      let read = 0;
      response.on('data', (chunk: Buffer) => {
        read += chunk.length;
        if (read <= MAX_RESPONSE_BODY_BYTES) return;
        settle(outcome);
        request.destroy();
      });
      for (const event of ['end', 'error', 'close']) response.on(event, () => settle(outcome));
    });
    request.on('error', (error: NodeJS.ErrnoException) => {
      if (answered) return settle(answered);
      const code = error.code ?? '';
      const category: AttemptFailure = handshaking || TLS_ERROR_CODE.test(code) ? 'TLS failed' : 'refused';
      settle({ delivered: false, error: category, detail: code ? `${code}: ${error.message}` : error.message });
    });
    request.end(body);
  });
}
