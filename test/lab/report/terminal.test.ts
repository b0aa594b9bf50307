/** The demo's words for circuit changes: a re-open says so instead of `open → open`. */
import { describe, expect, it } from 'vitest';
import { circuitChangeText } from '../../../lab/report/terminal.ts';

describe('circuitChangeText', () => {
  it('names what happened, then the raw change', () => {
    expect(circuitChangeText('closed', 'open')).toBe('circuit opened (closed → open)');
    expect(circuitChangeText('open', 'open')).toBe('circuit re-opened (open → open)');
    expect(circuitChangeText('half_open', 'open')).toBe('circuit re-opened (failed probe) (half-open → open)');
    expect(circuitChangeText('open', 'half_open')).toBe('circuit half-open (probing) (open → half-open)');
    expect(circuitChangeText('half_open', 'closed')).toBe('circuit closed (half-open → closed)');
    expect(circuitChangeText('closed', 'forced_open')).toBe('circuit forced open by an operator (closed → forced-open)');
  });
});
