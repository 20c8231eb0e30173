// Constraint violations that the database reports and the domain turns into its own
// errors: the database has the last word on uniqueness and references under concurrency.
import { Prisma } from '../database/generated/prisma/client.js';

export function isUniqueViolation(error: unknown): boolean {
  if (!(error instanceof Prisma.PrismaClientKnownRequestError)) return false;
  // P2002 from model queries; a raw query reports PostgreSQL's own code (23505) in P2010.
  return error.code === 'P2002' || (error.code === 'P2010' && (error.meta?.code === '23505' || /\b23505\b/.test(error.message)));
}

export function isForeignKeyViolation(error: unknown): boolean {
  return error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2003';
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
