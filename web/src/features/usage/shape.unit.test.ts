import { describe, expect, it } from 'vitest';
import type { UsageReport } from '../../../../lib/contracts/usage.js';
import { limitUsed, recentPeriods, topBars, usageCharts } from './shape.js';

const totals = (requests: number) => ({
  requests,
  errors: 0,
  durationMs: 0,
  computeMs: 0,
  inputBytes: 0,
  outputBytes: 0,
  inputTokens: 1,
  outputTokens: 2,
  costUsd: requests / 1000,
});

describe('usage charts', () => {
  it('shapes the report by agent (deleted ones by id, one runtime each), by runtime and by end user', () => {
    const report = {
      period: '2026-12',
      status: 'open',
      limit: 1000,
      totals: totals(30),
      byRuntime: [{ ...totals(30), runtime: 'local' }],
      byAgent: [
        { ...totals(10), agentId: 'agt_a', name: 'alpha', runtime: 'local' },
        { ...totals(20), agentId: 'agt_b', name: null, runtime: 'local' },
      ],
      byEndUser: [{ endUser: 'u-1', requests: 4, errors: 1, inputTokens: 5, outputTokens: 5 }],
    } as unknown as UsageReport;
    const c = usageCharts(report);
    expect(c.byAgent.map((b) => [b.name, b.requests, b.tokens])).toEqual([
      ['agt_b (deleted)', 20, 3],
      ['alpha', 10, 3],
    ]);
    expect(c.byRuntime).toEqual([{ name: 'local', requests: 30, errors: 0, tokens: 3, costUsd: 0.03 }]);
    expect(c.byEndUser).toEqual([{ name: 'u-1', requests: 4, errors: 1, tokens: 10, costUsd: null }]);
  });

  it('keeps the largest bars and sums the tail into one', () => {
    const rows = Array.from({ length: 12 }, (_, i) => ({
      name: `a${i}`,
      requests: i,
      errors: 0,
      tokens: 1,
      costUsd: 0.5,
    }));
    const bars = topBars(rows, 4);
    expect(bars.map((b) => b.name)).toEqual(['a11', 'a10', 'a9', '9 others']);
    expect(bars[3]).toMatchObject({ requests: 36, tokens: 9, costUsd: 4.5 });
  });

  it('the limit meter and the period list', () => {
    expect(limitUsed(250, 1000)).toBe(0.25);
    expect(limitUsed(5000, 1000)).toBe(1);
    expect(limitUsed(5, null)).toBeNull();
    expect(recentPeriods(new Date('2026-02-15T00:00:00Z'), 3)).toEqual(['2026-02', '2026-01', '2025-12']);
  });
});
