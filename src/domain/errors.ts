// Every way a request can fail by the rules of the domain, with a stable code. The
// GraphQL layer and the JSON:API adapter each map these once (code → extensions / HTTP).

/** What kind of failure it is. */
export type ErrorKind =
  | 'invalid' // the input breaks a rule
  | 'unauthenticated'
  | 'forbidden'
  | 'not_found'
  | 'conflict' // the resource's current state forbids it
  | 'unprocessable' // a referenced resource does not exist
  | 'unavailable'; // the database cannot be reached

/**
 * The HTTP status of each kind, one table for both surfaces: JSON:API answers with it,
 * GraphQL with the few that are about the request as a whole (src/graphql/errors.ts).
 */
export const HTTP_STATUS_BY_KIND: Record<ErrorKind, number> = {
  invalid: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  unprocessable: 422,
  unavailable: 503,
};

export const ERROR_CODES = {
  VALIDATION_FAILED: 'invalid',
  INITIAL_MESSAGE_IMMUTABLE: 'invalid',
  STATUS_NOT_SETTABLE: 'invalid',
  PAGING_ARGUMENTS_CONFLICT: 'invalid',
  UNAUTHENTICATED: 'unauthenticated',
  READ_ONLY_KEY: 'forbidden',
  NOT_FOUND: 'not_found',
  RUN_ALREADY_ENDED: 'conflict',
  STATE_LOCKED_WHILE_RUNNING: 'conflict',
  HAS_FLOW_RUNS: 'conflict',
  THREAD_ALREADY_EXISTS: 'conflict',
  IDEMPOTENCY_KEY_REUSED: 'conflict',
  IDEMPOTENT_RUN_DELETED: 'conflict',
  CONCURRENT_CHANGE: 'conflict',
  LIMIT_REACHED: 'conflict',
  REFERENCED_RESOURCE_NOT_FOUND: 'unprocessable',
  DATABASE_UNAVAILABLE: 'unavailable',
} as const satisfies Record<string, ErrorKind>;

export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * Where in the input the problem is, as a path of member names from the input's root
 * (e.g. ["initialMessage", "template", "id"]); each surface renders it its own way. It
 * stays a list until then: a member name is the client's own and may hold a `.`.
 */
export type InputPath = (string | number)[];

/**
 * Facts an error hands the client to act on, each under a stable name; each surface
 * renders them its own way (GraphQL `extensions`, JSON:API `meta`).
 */
export const ERROR_DETAIL_NAMES = [
  /** The id of the resource a conflict is with (e.g. the thread that already exists). */
  'existingId',
] as const;
export type ErrorDetails = Partial<Record<(typeof ERROR_DETAIL_NAMES)[number], string>>;

export class DomainError extends Error {
  readonly kind: ErrorKind;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly path?: InputPath,
    readonly details?: ErrorDetails,
  ) {
    super(message);
    this.name = 'DomainError';
    this.kind = ERROR_CODES[code];
  }
}

export const notFound = (what: string) => new DomainError('NOT_FOUND', `${what} not found`);
