import { describe, expect, it } from 'vitest';
import { hourlySeries } from './shape.js';

const point = (
  hour: string,
  requests: number,
  extra: Partial<{ errors: number; avgLatencyMs: number | null; inputTokens: number; outputTokens: number }> = {},
) => ({
  hour,
  requests,
  errors: 0,
  avgLatencyMs: 10,
  inputTokens: 0,
  outputTokens: 0,
  ...extra,
});

describe('hourly series', () => {
  it('has every hour of the window, oldest first, quiet hours as zeros', () => {
    const from = new Date('2026-12-01T10:20:00Z');
    const to = new Date('2026-12-01T14:05:00Z');
    const s = hourlySeries(
      [
        point('2026-12-01T13:00:00.000Z', 5, { errors: 1, inputTokens: 3, outputTokens: 4 }),
        point('2026-12-01T11:00:00.000Z', 2),
      ],
      from,
      to,
    );
    expect(s.map((p) => p.hour)).toEqual([
      '2026-12-01T10:00:00.000Z',
      '2026-12-01T11:00:00.000Z',
      '2026-12-01T12:00:00.000Z',
      '2026-12-01T13:00:00.000Z',
      '2026-12-01T14:00:00.000Z',
    ]);
    expect(s.map((p) => p.requests)).toEqual([0, 2, 0, 5, 0]);
    expect(s[3]).toMatchObject({ errors: 1, tokens: 7, avgLatencyMs: 10 });
    // no traffic is no latency, not zero latency
    expect(s[0]!.avgLatencyMs).toBeNull();
  });

  it('drops points outside the window', () => {
    const s = hourlySeries(
      [point('2026-11-30T00:00:00.000Z', 9)],
      new Date('2026-12-01T00:00:00Z'),
      new Date('2026-12-01T01:00:00Z'),
    );
    expect(s.reduce((n, p) => n + p.requests, 0)).toBe(0);
  });
});
