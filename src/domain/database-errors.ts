// Constraint violations that the database reports and the domain turns into its own
// errors: the database has the last word on uniqueness and references under concurrency.
import { Prisma } from '../database/generated/prisma/client.js';
import { DomainError } from './errors.js';

/**
 * PostgreSQL's own SQLSTATE behind a Prisma error: model queries carry it in the driver
 * adapter's cause, raw queries (P2010) in meta.code. Prisma maps some states to its own
 * codes (23505 → P2002) but not all (a RESTRICT violation, 23001, arrives as P2039).
 */
function sqlStateOf(error: Prisma.PrismaClientKnownRequestError): string | undefined {
  const meta = error.meta as { code?: unknown; driverAdapterError?: { cause?: { originalCode?: unknown } } } | undefined;
  const state = meta?.driverAdapterError?.cause?.originalCode ?? meta?.code;
  return typeof state === 'string' ? state : undefined;
}

export function isUniqueViolation(error: unknown): boolean {
  // A statement sent without Prisma (the row reader) fails with the driver's own error.
  if (!(error instanceof Prisma.PrismaClientKnownRequestError)) return (error as { code?: unknown } | null)?.code === '23505';
  return error.code === 'P2002' || sqlStateOf(error) === '23505';
}

/** A row is still referenced (ON DELETE RESTRICT, 23001) or a reference points nowhere (23503). */
export function isForeignKeyViolation(error: unknown): boolean {
  if (!(error instanceof Prisma.PrismaClientKnownRequestError)) return false;
  const state = sqlStateOf(error);
  return error.code === 'P2003' || state === '23503' || state === '23001';
}

export function isRecordNotFound(error: unknown): boolean {
  return error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2025';
}

// What node-postgres, Prisma and PGlite say when the database cannot be reached or
// went away mid-query. Such a request failed through no fault of the client: 503.
const UNREACHABLE_MESSAGE =
  /Connection terminated|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|timeout exceeded when trying to connect|Can't reach database server|the database system is (starting up|shutting down|in recovery mode)|terminating connection due to administrator command|PGlite is closed|Client has encountered a connection error/i;
const UNREACHABLE_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', '57P01', '57P03']);

export function isDatabaseUnavailable(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; current = current.cause, depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && UNREACHABLE_CODES.has(code)) return true;
    if (UNREACHABLE_MESSAGE.test(current.message)) return true;
  }
  return false;
}

// A value the database refuses is a client's value the checks before it let through:
// SQLSTATE class 22 (data exception: out of range, malformed, a character it can not
// store) is a 400 like any other invalid value, not a 500. JSON and GraphQL strings may
// hold U+0000, which PostgreSQL text and jsonb can not store (22021 invalid byte
// sequence, 22P05 untranslatable character, 22P02 invalid text representation).
const UNSTORABLE_CHARACTER_STATES = new Set(['22021', '22P05', '22P02']);

/** The SQLSTATE of class 22 behind a failure, if there is one. */
function dataExceptionOf(error: unknown): string | undefined {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; current = current.cause, depth++) {
    // Model queries report PostgreSQL's code under the adapter's cause; raw queries (P2010)
    // as meta.code; statements sent without Prisma (the row reader) as the driver's code.
    const meta = (current as { meta?: { code?: unknown; driverAdapterError?: { cause?: { originalCode?: unknown } } } }).meta;
    const state = meta?.driverAdapterError?.cause?.originalCode ?? meta?.code ?? (current as { code?: unknown }).code;
    if (typeof state === 'string' && /^22[0-9A-Z]{3}$/.test(state)) return state;
  }
  return undefined;
}

/** The domain's error for a database failure that is not a bug: unreachable, or a value it can not store. */
export function asDomainError(error: unknown): DomainError | undefined {
  if (isDatabaseUnavailable(error)) {
    return new DomainError('DATABASE_UNAVAILABLE', 'the database is unavailable at the moment; retry shortly');
  }
  const state = dataExceptionOf(error);
  if (state !== undefined && UNSTORABLE_CHARACTER_STATES.has(state)) {
    return new DomainError('VALIDATION_FAILED', 'a text or JSON value holds a character that can not be stored (such as \\u0000)');
  }
  if (state !== undefined) {
    return new DomainError('VALIDATION_FAILED', 'a value is out of the range the database can store, or not in a form it reads');
  }
  return undefined;
}
