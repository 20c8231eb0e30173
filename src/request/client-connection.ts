// Where a request came from, as far as the service can know it. "This machine" is decided
// on the TCP peer, never on a header: a header can only take a client away from this
// machine, never bring one onto it, so no proxy needs to be trusted for these checks.
import ipaddr from 'ipaddr.js';

/** What the server knows of the connection a request came on (HTTP or WebSocket). */
export interface ClientConnection {
  remoteAddress?: string;
}

const isLoopbackAddress = (address: string): boolean => {
  const bare = address.trim().replace(/^\[|\]$/g, '');
  return ipaddr.isValid(bare) && ipaddr.process(bare).range() === 'loopback';
};

/**
 * The addresses a proxy says it forwarded for (X-Forwarded-For, X-Real-IP, Forwarded's
 * `for=`), in whatever form they came: one that is not a loopback address, or not an
 * address at all (`unknown`, an obfuscated name), is elsewhere.
 */
function forwardedFor(headers: Headers): string[] {
  const addresses: string[] = [];
  for (const name of ['x-forwarded-for', 'x-real-ip']) {
    const value = headers.get(name);
    if (value !== null) addresses.push(...value.split(','));
  }
  const forwarded = headers.get('forwarded');
  if (forwarded !== null) {
    for (const match of forwarded.matchAll(/for\s*=\s*("[^"]*"|[^;,\s]*)/gi)) {
      // `for="[::1]:8080"`, `for=127.0.0.1`: the address without quotes, brackets or port.
      const value = (match[1] ?? '').replace(/^"|"$/g, '');
      addresses.push(value.startsWith('[') ? value.slice(1, value.indexOf(']')) : value.replace(/:\d+$/, ''));
    }
  }
  return addresses;
}

/**
 * A client on this machine: the connection's peer is a loopback address, and no proxy on
 * this machine says it passes the request on for someone elsewhere. Without a connection
 * (the app called in process) the client is not known to be here.
 */
export function isLoopbackClient(headers: Headers, connection: ClientConnection | undefined): boolean {
  const peer = connection?.remoteAddress;
  if (!peer || !isLoopbackAddress(peer)) return false;
  return forwardedFor(headers).every(isLoopbackAddress);
}

/** `localhost`, a name under it, or a loopback address: what only this machine is called. */
function namesThisMachine(host: string | null): boolean {
  if (!host) return false;
  const name = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d*$/, '');
  const lower = name.toLowerCase().replace(/\.$/, '');
  return lower === 'localhost' || lower.endsWith('.localhost') || isLoopbackAddress(lower);
}

/**
 * A browser on this machine asking for a page for itself: a loopback client (above) that
 * called the service by a loopback name, not a page of another site whose name was
 * pointed at 127.0.0.1 (DNS rebinding), and not a page of another origin reading it.
 */
export function isLocalBrowser(headers: Headers, connection: ClientConnection | undefined): boolean {
  if (!isLoopbackClient(headers, connection)) return false;
  const host = headers.get('host');
  if (!namesThisMachine(host)) return false;
  const origin = headers.get('origin');
  return origin === null || origin === `http://${host}`;
}
