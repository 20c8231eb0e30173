// Turns a zod failure into the domain's VALIDATION_FAILED error, pointing at the first
// offending member so that both surfaces can say exactly what is wrong.
import type { z } from 'zod';
import { DomainError, type InputPath } from './errors.js';

export function parseInput<Schema extends z.ZodType>(schema: Schema, value: unknown, basePath: InputPath = []): z.output<Schema> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (!issue) throw new DomainError('VALIDATION_FAILED', 'the input is not valid', basePath);
  const path = [...basePath, ...issue.path.map((part) => (typeof part === 'symbol' ? String(part) : part))];
  const where = path.length ? `${path.join('.')}: ` : '';
  throw new DomainError('VALIDATION_FAILED', `${where}${issue.message}`, path);
}
