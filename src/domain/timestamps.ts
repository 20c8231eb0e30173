// The instants the service takes. PostgreSQL's timestamptz reaches from 4713 BC to
// 294276 AD but reads no year 0000 in the ISO form; a JavaScript Date prints years past
// 9999 with a sign and six digits, which is not the form this API answers with. So: years
// 0001 to 9999, in UTC (an offset can carry a date across either end).
import { z } from 'zod';
import type { InputPath } from './errors.js';
import { parseInput } from './validation.js';

export const EARLIEST_TIMESTAMP = new Date('0001-01-01T00:00:00.000Z');
export const LATEST_TIMESTAMP = new Date('9999-12-31T23:59:59.999Z');

/** The range as said in refusals and documentation. */
export const TIMESTAMP_RANGE = 'from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z (UTC)';

export const isStorableTimestamp = (date: Date): boolean =>
  date.getTime() >= EARLIEST_TIMESTAMP.getTime() && date.getTime() <= LATEST_TIMESTAMP.getTime();

/** Every timestamp input's rule: a Date within the range above. */
export const storableTimestamp = z.date().refine(isStorableTimestamp, `must be a date-time ${TIMESTAMP_RANGE}`);

/** `date`, or VALIDATION_FAILED naming `path` when it is out of the range. */
export const checkedTimestamp = (date: Date, path: InputPath): Date => parseInput(storableTimestamp, date, path);
