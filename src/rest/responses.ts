// A JSON:API response: a document, or a RestError's error objects, with its status and headers.
import type { RestError } from './errors.js';
import { JSON_API } from './media-type.js';

export function documentResponse(status: number, document: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(document), {
    status,
    headers: { 'Content-Type': JSON_API, ...headers },
  });
}

export function errorResponse(error: RestError): Response {
  return documentResponse(error.status, { errors: error.errors }, error.headers);
}
