/** The largest request body either surface reads. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** A request body read into memory, or undefined as soon as it passes `limit` bytes. */
export async function readBodyWithin(request: Request, limit = MAX_BODY_BYTES): Promise<Buffer<ArrayBuffer> | undefined> {
  if (!request.body) return Buffer.alloc(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size) as Buffer<ArrayBuffer>;
}
