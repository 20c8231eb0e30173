// What a flow run's `state` and `initialMessage` may hold (docs/API.md, "Flow run").
import { z } from 'zod';
import { DomainError, type InputPath } from './errors.js';
import { parseInput } from './validation.js';

export type JsonObject = Record<string, unknown>;
export type Channel = 'whatsapp' | 'sms' | 'email' | 'web';

const nonEmptyString = z.string().min(1, 'must be a non-empty string');

/**
 * How deep `state` and `initialMessage` may nest, the value itself being level 1
 * ({} is 1, {"a":[]} is 2). Far more than a flow needs; the point is that whatever handles
 * the value afterwards (zod, idempotency hashing, Prisma's argument cloning,
 * JSON.stringify) recurses once per level and would overflow the call stack, a 500, on a
 * value a few thousand levels deep.
 */
export const MAX_JSON_NESTING = 32;

/**
 * Refuses a value nested deeper than MAX_JSON_NESTING, and a member named `__proto__`:
 * JSON.parse makes it an ordinary member, but every copy on its way to the database
 * (zod's, Prisma's) assigns it, which sets a prototype instead, and the member would be
 * lost without a word. It walks with a stack of its own, not by recursion, so that no
 * depth can overflow the check itself; it stops at the first member refused.
 */
export function assertStorableJson(value: unknown, path: InputPath): void {
  // Each member knows its parent and name, not its whole path: the path is built only for
  // a member refused, not copied for every member of every trigger's state.
  interface Member {
    value: unknown;
    level: number;
    parent?: Member;
    name?: string | number;
  }
  const pathTo = (member: Member, last: string): InputPath => {
    const names: (string | number)[] = [last];
    for (let at: Member | undefined = member; at?.parent; at = at.parent) names.unshift(at.name as string | number);
    return [...path, ...names];
  };
  const pending: Member[] = [{ value, level: 1 }];
  for (let member = pending.pop(); member; member = pending.pop()) {
    const object = member.value;
    if (typeof object !== 'object' || object === null) continue;
    if (member.level > MAX_JSON_NESTING) {
      throw new DomainError('VALIDATION_FAILED', `${path.join('.')}: must not be nested more than ${MAX_JSON_NESTING} levels deep`, path);
    }
    if (Object.hasOwn(object, '__proto__')) {
      const named = pathTo(member, '__proto__');
      throw new DomainError('VALIDATION_FAILED', `${named.join('.')}: a member may not be named "__proto__"`, named);
    }
    const isList = Array.isArray(object);
    for (const [name, child] of Object.entries(object)) {
      pending.push({ value: child, level: member.level + 1, parent: member, name: isList ? Number(name) : name });
    }
  }
}

const stateSchema = z.looseObject({
  // Scheduling steps in `custom` mode read it.
  scheduleId: z
    .union([nonEmptyString, z.array(nonEmptyString).min(1, 'must not be an empty list')], {
      error: 'must be a non-empty string or a non-empty list of non-empty strings',
    })
    .optional(),
});

/**
 * `state` is a JSON object. Older integrations send it as a JSON string holding an
 * object (the reference's own example does), which is accepted and stored as the object.
 */
export function parseState(value: unknown): JsonObject {
  let state = value;
  if (typeof value === 'string') {
    try {
      // V8's JSON.parse does not recurse: any depth parses, and is then judged below.
      state = JSON.parse(value);
    } catch {
      throw new DomainError('VALIDATION_FAILED', 'state: a string must hold a JSON object', ['state']);
    }
  }
  if (typeof state !== 'object' || state === null || Array.isArray(state)) {
    throw new DomainError('VALIDATION_FAILED', 'state: must be a JSON object', ['state']);
  }
  assertStorableJson(state, ['state']);
  return parseInput(stateSchema, state, ['state']);
}

const templateMessage = z.looseObject({
  type: z.literal('template'),
  template: z.looseObject({
    id: z.uuid('must be a UUID'),
    components: z.array(z.looseObject({}), 'must be a list of objects'),
  }),
});

const textMessage = z.looseObject({
  type: z.literal('text'),
  text: nonEmptyString.max(4096),
});

const messageForChannel: Record<Channel, z.ZodType<JsonObject>> = {
  // WhatsApp only lets a business open a conversation with an approved template.
  whatsapp: z.discriminatedUnion('type', [templateMessage], { error: 'must be {"type":"template",...} on a whatsapp thread' }),
  sms: z.discriminatedUnion('type', [templateMessage, textMessage], { error: 'must be of type "template" or "text"' }),
  email: z.discriminatedUnion('type', [templateMessage, textMessage], { error: 'must be of type "template" or "text"' }),
  web: z.discriminatedUnion('type', [templateMessage, textMessage], { error: 'must be of type "template" or "text"' }),
};

/** `{}` means "send nothing"; anything else must be a message the channel can carry. */
export function parseInitialMessage(value: unknown, channel: Channel): JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new DomainError('VALIDATION_FAILED', 'initialMessage: must be a JSON object ({} for no message)', ['initialMessage']);
  }
  assertStorableJson(value, ['initialMessage']);
  if (Object.keys(value).length === 0) return {};
  return parseInput(messageForChannel[channel], value, ['initialMessage']);
}

/**
 * The message when every channel accepts it ({} or a template: WhatsApp is the strictest
 * channel), so that it needs no look at the thread; undefined otherwise.
 */
export function messageForEveryChannel(value: unknown): JsonObject | undefined {
  try {
    return parseInitialMessage(value, 'whatsapp');
  } catch {
    return undefined;
  }
}
