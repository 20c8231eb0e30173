/**
 * The API key of a request: `Authorization: <key>` (the form the reference documents)
 * or `Authorization: Bearer <key>`.
 */
export function apiKeyFrom(headers: Headers): string | undefined {
  const value = headers.get('authorization')?.trim();
  if (!value) return undefined;
  const bearer = /^Bearer\s+(.+)$/i.exec(value);
  return (bearer?.[1] ?? value).trim() || undefined;
}
