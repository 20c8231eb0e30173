// A clock the test moves by hand, handed to the domain as its `clock` service.
import type { Clock } from '../../src/domain/flow-run-changes.ts';

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;

export class TestClock implements Clock {
  constructor(private current = new Date('2026-01-01T09:00:00Z')) {}
  now = () => new Date(this.current);
  /** Moves the clock on by `ms` milliseconds (MINUTE and HOUR help). */
  advance(ms: number) {
    this.current = new Date(this.current.getTime() + ms);
  }
}
