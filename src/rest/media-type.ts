// JSON:API 1.1 content negotiation (https://jsonapi.org/format/#content-negotiation).
// No extension is supported; profiles are accepted and ignored.
import { restError } from './errors.js';

export const JSON_API = 'application/vnd.api+json';

interface MediaRange {
  type: string;
  params: Map<string, string>;
}

/** Splits `a/b; x=1, c/d` into media ranges; quoted commas and semicolons are respected. */
function parseMediaRanges(header: string): MediaRange[] {
  const ranges: MediaRange[] = [];
  for (const part of splitOutsideQuotes(header, ',')) {
    const [type, ...rawParams] = splitOutsideQuotes(part, ';');
    if (!type?.trim()) continue;
    const params = new Map<string, string>();
    for (const raw of rawParams) {
      const eq = raw.indexOf('=');
      if (eq < 0) continue;
      const name = raw.slice(0, eq).trim().toLowerCase();
      let value = raw.slice(eq + 1).trim();
      if (value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1).replace(/\\(.)/g, '$1');
      params.set(name, value);
    }
    ranges.push({ type: type.trim().toLowerCase(), params });
  }
  return ranges;
}

function splitOutsideQuotes(text: string, separator: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (c === '"' && text[i - 1] !== '\\') quoted = !quoted;
    if (c === separator && !quoted) {
      parts.push(current);
      current = '';
    } else current += c;
  }
  parts.push(current);
  return parts;
}

/** Parameters of the JSON:API media type other than ext/profile (the q weight of Accept aside). */
const foreignParams = (range: MediaRange, ignore: string[] = []) =>
  [...range.params.keys()].filter((name) => name !== 'ext' && name !== 'profile' && !ignore.includes(name));

/** An `ext` parameter names extensions; this server supports none. */
const asksForExtension = (range: MediaRange) => (range.params.get('ext') ?? '').trim() !== '';

/**
 * 415 unless the body is declared as the JSON:API media type with no parameters other
 * than ext/profile, and no extension is asked for.
 */
export function assertRequestContentType(headers: Headers): void {
  const header = headers.get('content-type');
  const [range] = header ? parseMediaRanges(header) : [];
  if (!range || range.type !== JSON_API) {
    throw restError(415, 'UNSUPPORTED_MEDIA_TYPE', `request bodies must be sent as Content-Type: ${JSON_API}`, {
      header: 'Content-Type',
    });
  }
  const foreign = foreignParams(range);
  if (foreign.length) {
    throw restError(415, 'UNSUPPORTED_MEDIA_TYPE', `media type parameter not allowed: ${foreign.join(', ')}`, {
      header: 'Content-Type',
    });
  }
  if (asksForExtension(range)) {
    throw restError(415, 'UNSUPPORTED_MEDIA_TYPE', 'no JSON:API extension is supported', { header: 'Content-Type' });
  }
}

/**
 * 406 when Accept names the JSON:API media type and every instance of it carries a
 * parameter other than ext/profile, or asks for an extension. Without Accept, with
 * `*\/*`, or with other types only, the JSON:API media type is served.
 */
export function assertAcceptable(headers: Headers): void {
  const header = headers.get('accept');
  if (!header) return;
  const instances = parseMediaRanges(header).filter((range) => range.type === JSON_API);
  if (!instances.length) return;
  const usable = instances.filter((range) => foreignParams(range, ['q']).length === 0 && !asksForExtension(range));
  if (!usable.length) {
    throw restError(406, 'NOT_ACCEPTABLE', `the server can only send ${JSON_API} without media type parameters`, {
      header: 'Accept',
    });
  }
}
