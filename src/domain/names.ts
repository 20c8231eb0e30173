// The rule for names people give things (organizations, API keys): they end up in
// tab-separated listings and terminals, where a control character (a tab, a newline, an
// ESC starting an escape sequence) would break the columns or drive the terminal.
import { DomainError } from './errors.js';

/** `name` trimmed, or VALIDATION_FAILED at `field` when empty, longer than `maxLength` or holding a control character. */
export function checkedName(name: string, maxLength: number, field = 'name'): string {
  const trimmed = name.trim();
  if (!trimmed || trimmed.length > maxLength || /\p{Cc}/u.test(trimmed)) {
    throw new DomainError('VALIDATION_FAILED', `${field}: must be 1 to ${maxLength} characters, none of them control characters`, [field]);
  }
  return trimmed;
}
