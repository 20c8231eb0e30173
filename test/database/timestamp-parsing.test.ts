// The row reader's own timestamptz parser must read what PostgreSQL prints in any session
// time zone exactly as the driver's general parser does.
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { parseTimestamptz } from '../../src/database/row-reader.ts';

const general = pg.types.getTypeParser(1184, 'text');

describe('timestamptz text as PostgreSQL prints it', () => {
  it.each([
    '2026-01-01 00:00:00+00',
    '2026-01-01 10:45:05.123+00',
    '2026-12-31 23:59:59.9+00',
    '2026-06-15 12:00:00.123456+02',
    '2026-06-15 12:00:00.5+05:30',
    '2026-06-15 12:00:00-03',
    '1999-02-28 01:02:03.004-09:30',
    '0044-03-15 12:00:00+00 BC',
    '12026-06-15 12:00:00+00',
    '2026-06-15 12:00:00.123456789+00',
    '2026-13-45 12:00:00+00',
    'infinity',
    '-infinity',
  ])('%s', (text) => {
    const expected = general(text) as Date | number;
    const actual = parseTimestamptz(text) as Date | number;
    expect(Number(actual)).toEqual(Number(expected));
  });

  it('reads the offset, not the local time of the process', () => {
    expect(parseTimestamptz('2026-06-15 12:00:00.5+05:30').toISOString()).toBe('2026-06-15T06:30:00.500Z');
    expect(parseTimestamptz('2026-06-15 12:00:00-03').toISOString()).toBe('2026-06-15T15:00:00.000Z');
  });
});
