// How every mutation answers: a `<Mutation>Payload` object holding what it changed and
// `errors`, a list of the domain errors that mutation can end with (the union
// `<Mutation>Error`), so a typed client sees in the schema which failures to handle.
//
// Declare a mutation's payload and its errors in one place, `mutationPayload`, and serve
// it with `payloadField`:
//
//   const PatchFlowRunPayload = mutationPayload<{ flowRun: FlowRunRow }>('PatchFlowRun', {
//     errors: ['NOT_FOUND', 'VALIDATION_FAILED', ...],
//     fields: (t) => ({ flowRun: t.prismaField({ type: 'FlowRun', nullable: true, resolve: (_q, p) => p.flowRun ?? null }) }),
//   });
//   patchFlowRun: payloadField(t, PatchFlowRunPayload, { args, resolve: async (args, ctx) => ({ flowRun: ... }) }),
//
// When the mutation fails with one of its listed errors, the error is answered in
// `errors` (and the other payload fields are null) if the operation selects `errors`;
// otherwise it is raised as a GraphQL error with `extensions.code`, as every other
// failure is (authentication, read-only key, unavailable database, unexpected errors).
// The mutation field itself is nullable, so a raised error nulls that field alone: the
// results of the mutations before it in the same document, already committed, stay.
import type { FieldMap, InputFieldMap, InputShapeFromFields, ObjectFieldBuilder, ObjectRef } from '@pothos/core';
import {
  type FieldNode,
  getDirectiveValues,
  GraphQLIncludeDirective,
  type GraphQLResolveInfo,
  GraphQLSkipDirective,
  Kind,
  type SelectionSetNode,
} from 'graphql';
import { asDomainError } from '../../domain/database-errors.js';
import { DomainError, type ErrorCode } from '../../domain/errors.js';
import { builder } from '../builder.js';
import type { GraphQLContext } from '../context.js';
import { ErrorCodeEnum } from './error-code.js';

type Types = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer T> ? T : never;

/** The codes a mutation may answer in its payload, and the GraphQL type each one is. */
const ERROR_TYPES = {
  ValidationError: {
    codes: ['VALIDATION_FAILED', 'INITIAL_MESSAGE_IMMUTABLE', 'STATUS_NOT_SETTABLE'],
    description: 'The input breaks a rule; `field` names the member, `code` which rule.',
  },
  NotFoundError: { codes: ['NOT_FOUND'], description: 'Nothing of the organization has this id.' },
  ReferencedResourceNotFoundError: {
    codes: ['REFERENCED_RESOURCE_NOT_FOUND'],
    description: 'An id in the input (named by `field`) refers to nothing of the organization.',
  },
  RunAlreadyEndedError: { codes: ['RUN_ALREADY_ENDED'], description: 'The run has already ended with another status.' },
  StateLockedWhileRunningError: {
    codes: ['STATE_LOCKED_WHILE_RUNNING'],
    description: 'The state can only be replaced once the run is not running.',
  },
  HasFlowRunsError: { codes: ['HAS_FLOW_RUNS'], description: 'It still has flow runs; delete them first.' },
  ThreadAlreadyExistsError: {
    codes: ['THREAD_ALREADY_EXISTS'],
    description: 'A message thread with this channel and identifier already exists.',
  },
  IdempotencyKeyReusedError: {
    codes: ['IDEMPOTENCY_KEY_REUSED'],
    description: 'The idempotency key was used with another input in the last 24 hours.',
  },
  IdempotentRunDeletedError: {
    codes: ['IDEMPOTENT_RUN_DELETED'],
    description: 'The run an earlier trigger with this idempotency key created has been deleted.',
  },
  ConcurrentChangeError: { codes: ['CONCURRENT_CHANGE'], description: 'Something changed meanwhile; retrying may succeed.' },
  LimitReachedError: {
    codes: ['LIMIT_REACHED'],
    description: 'The organization has as many of these as it may have; delete one first.',
  },
} as const satisfies Record<string, { codes: readonly ErrorCode[]; description: string }>;

type ErrorTypeName = keyof typeof ERROR_TYPES;
/** A code a payload can hold: a domain outcome of one mutation, not of the request as a whole. */
export type PayloadErrorCode = (typeof ERROR_TYPES)[ErrorTypeName]['codes'][number];

const TYPE_BY_CODE = new Map<ErrorCode, ErrorTypeName>(
  Object.entries(ERROR_TYPES).flatMap(([name, { codes }]) => codes.map((code) => [code, name as ErrorTypeName] as const)),
);

/**
 * A domain error as a payload holds it: plain data, not the Error itself (GraphQL would
 * take an Error returned by a resolver for a failure of that field).
 */
export interface AnsweredError {
  code: ErrorCode;
  message: string;
  path?: DomainError['path'];
  details?: DomainError['details'];
}

function errorTypeOf(code: ErrorCode): ErrorTypeName {
  const name = TYPE_BY_CODE.get(code);
  if (!name) throw new Error(`no GraphQL error type answers ${code}`);
  return name;
}

const MutationError = builder.interfaceRef<AnsweredError>('MutationError').implement({
  description:
    'A domain error a mutation answered in its payload. The same failure is raised as a GraphQL error with ' +
    "`extensions.code` when the operation does not select the payload's `errors`.",
  fields: (t) => ({
    code: t.field({ type: ErrorCodeEnum, resolve: (error) => error.code }),
    message: t.string({ resolve: (error) => error.message }),
    field: t.string({
      nullable: true,
      description: 'The input member it is about, as a dotted path (`extensions.field` of the GraphQL error); null for none.',
      resolve: (error) => (error.path?.length ? error.path.join('.') : null),
    }),
  }),
});

// The facts an error hands the client (DomainError's details) are fields of its type.
const existingIdField = (t: ObjectFieldBuilder<Types, AnsweredError>) =>
  t.field({
    type: 'UUID',
    description: 'The thread that already exists (`extensions.existingId` of the GraphQL error).',
    resolve: (error) => {
      const id = error.details?.existingId;
      if (!id) throw new Error(`${error.code} without existingId`);
      return id;
    },
  });

const errorTypes = Object.fromEntries(
  Object.entries(ERROR_TYPES).map(([name, { description }]) => [
    name,
    builder.objectRef<AnsweredError>(name).implement({
      description,
      interfaces: [MutationError],
      fields: (t): FieldMap => (name === 'ThreadAlreadyExistsError' ? { existingId: existingIdField(t) } : {}),
    }),
  ]),
) as Record<ErrorTypeName, ObjectRef<Types, AnsweredError>>;

/** What a payload object holds: the mutation's result fields, or none of them and its errors. */
export type Payload<Result> = Partial<Result> & { errors: AnsweredError[] };

export interface PayloadType<Result> {
  ref: ObjectRef<Types, Payload<Result>>;
  /** The codes answered in `errors` (when selected). */
  codes: ReadonlySet<ErrorCode>;
}

/**
 * `<name>Payload` with the given fields (nullable: they are null when the mutation failed)
 * and `errors: [<name>Error!]!`, the union of the error types of `errors`.
 */
export function mutationPayload<Result extends object>(
  name: string,
  options: {
    errors: readonly PayloadErrorCode[];
    description?: string;
    fields: (t: ObjectFieldBuilder<Types, Payload<Result>>) => FieldMap;
  },
): PayloadType<Result> {
  const members = [...new Set(options.errors.map(errorTypeOf))];
  const union = builder.unionType(`${name}Error`, {
    description: `What ${lowerFirst(name)} can answer in its payload's errors.`,
    types: members.map((member) => errorTypes[member]),
    resolveType: (error) => errorTypeOf(error.code),
  });
  const ref = builder.objectRef<Payload<Result>>(`${name}Payload`).implement({
    description: options.description,
    fields: (t) => ({
      ...options.fields(t),
      errors: t.field({
        type: [union],
        description:
          'Empty when the mutation succeeded. Its errors are answered here only when this field is selected; ' +
          'otherwise they are raised as GraphQL errors with extensions.code.',
        resolve: (payload) => payload.errors,
      }),
    }),
  });
  return { ref, codes: new Set(options.errors) };
}

/**
 * A mutation answering `payload`: nullable (a raised error nulls this field only), with
 * the errors of the payload answered in it when the operation selects `errors`.
 */
export function payloadField<Result extends object, Args extends InputFieldMap>(
  t: PothosSchemaTypes.MutationFieldBuilder<Types, object>,
  payload: PayloadType<Result>,
  options: {
    description?: string;
    args: Args;
    resolve: (args: InputShapeFromFields<Args>, context: GraphQLContext) => Promise<Result>;
  },
) {
  return t.field({
    type: payload.ref,
    nullable: true,
    description: options.description,
    args: options.args,
    resolve: (_root: unknown, args: InputShapeFromFields<Args>, context: GraphQLContext, info: GraphQLResolveInfo) =>
      answer(payload, () => options.resolve(args, context), info),
  } as never);
}

async function answer<Result extends object>(payload: PayloadType<Result>, work: () => Promise<Result>, info: GraphQLResolveInfo) {
  try {
    return { ...(await work()), errors: [] } as Payload<Result>;
  } catch (error) {
    const domain = error instanceof DomainError ? error : asDomainError(error);
    if (domain && payload.codes.has(domain.code) && selectsErrors(info)) {
      return { errors: [{ code: domain.code, message: domain.message, path: domain.path, details: domain.details }] } as Payload<Result>;
    }
    throw error;
  }
}

/** Whether the operation asks for the payload's `errors` (directly or through fragments, not skipped). */
function selectsErrors(info: GraphQLResolveInfo): boolean {
  const included = (node: FieldNode | { directives?: FieldNode['directives'] }) =>
    !getDirectiveValues(GraphQLSkipDirective, node, info.variableValues)?.if &&
    getDirectiveValues(GraphQLIncludeDirective, node, info.variableValues)?.if !== false;
  const visit = (set: SelectionSetNode | undefined): boolean =>
    !!set?.selections.some((selection) => {
      if (!included(selection)) return false;
      if (selection.kind === Kind.FIELD) return selection.name.value === 'errors';
      if (selection.kind === Kind.INLINE_FRAGMENT) return visit(selection.selectionSet);
      return visit(info.fragments[selection.name.value]?.selectionSet);
    });
  return info.fieldNodes.some((node) => visit(node.selectionSet));
}

const lowerFirst = (name: string) => name.charAt(0).toLowerCase() + name.slice(1);
