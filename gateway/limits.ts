import { AppError, periodBounds, periodOf, type Period } from '../lib/contracts/index.js';
import type { Logger } from '../lib/log.js';
import type { LimitStore } from '../lib/store/index.js';

export interface LimiterOptions {
  /** The most requests one lease takes. */
  maxBlock: number;
  /** A lease takes at most this share of what is left of the limit, so gateways share the end of it. */
  shareOfRest: number;
  /** How long "no limit" (enterprise) is believed before the tier is read again. */
  unlimitedForMs: number;
  /** How long a used-up limit is believed before asking again (a tier change, released leases). */
  exhaustedForMs: number;
  /** Owners with a local budget; past it the least recently seen is given back. */
  maxOwners: number;
  now: () => number;
}

const DEFAULTS: LimiterOptions = {
  maxBlock: 1000,
  shareOfRest: 1 / 16,
  unlimitedForMs: 30_000,
  exhaustedForMs: 5_000,
  maxOwners: 100_000,
  now: Date.now,
};

interface Budget {
  period: Period;
  /** Leased and not yet used. */
  remaining: number;
  /** What the next lease asks for. */
  want: number;
  unlimitedUntil: number;
  exhaustedUntil: number;
  lease: Promise<void> | null;
}

/**
 * The monthly request limit at the gateway (DESIGN.md §8). Each gateway leases blocks of an
 * owner's requests from the store's shared counter (`leaseRequests`), which never leases more
 * than the tier allows; admitting a request is then a decrement in memory. Blocks shrink as
 * the limit nears (a share of what is left), and the next block is fetched while the current
 * one still lasts, so the hot path rarely waits. Gateways together can never pass the limit;
 * requests leased by one gateway and unused there are given back when it closes.
 */
export class RequestLimiter {
  private readonly budgets = new Map<string, Budget>();
  private readonly opts: LimiterOptions;

  constructor(
    private readonly store: Pick<LimitStore, 'leaseRequests' | 'releaseRequests'>,
    private readonly log: Logger,
    opts: Partial<LimiterOptions> = {},
  ) {
    this.opts = { ...DEFAULTS, ...opts };
  }

  /** Admits one request of the owner, or throws `limit_exceeded` with the seconds until the next period. */
  async admit(ownerId: string): Promise<void> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const now = this.opts.now();
      const b = this.budgetOf(ownerId, periodOf(new Date(now)));
      if (b.unlimitedUntil > now) return;
      if (b.remaining > 0) {
        b.remaining--;
        // Fetch the next block while this one lasts.
        if (b.remaining <= b.want / 4 && !b.lease && b.exhaustedUntil <= now)
          void this.refill(ownerId, b).catch(() => {});
        return;
      }
      if (b.exhaustedUntil > now) break;
      await this.refill(ownerId, b);
    }
    const now = this.opts.now();
    const period = periodOf(new Date(now));
    const retryAfterS = Math.max(1, Math.ceil((periodBounds(period).end.getTime() - now) / 1000));
    throw new AppError(
      'limit_exceeded',
      `this account has used its requests for ${period}; upgrade the tier, or wait for the next period`,
      {
        period,
        retryAfterS,
      },
    );
  }

  private budgetOf(ownerId: string, period: Period): Budget {
    let b = this.budgets.get(ownerId);
    if (b && b.period === period) {
      // most recently seen last, so the first entry is the one to evict
      this.budgets.delete(ownerId);
      this.budgets.set(ownerId, b);
      return b;
    }
    b = { period, remaining: 0, want: 16, unlimitedUntil: 0, exhaustedUntil: 0, lease: null };
    this.budgets.delete(ownerId);
    this.budgets.set(ownerId, b);
    if (this.budgets.size > this.opts.maxOwners) {
      const [oldest, old] = this.budgets.entries().next().value!;
      this.budgets.delete(oldest);
      this.giveBack(oldest, old);
    }
    return b;
  }

  /** One lease at a time per owner; callers wait on the one in flight. */
  private refill(ownerId: string, b: Budget): Promise<void> {
    b.lease ??= (async () => {
      try {
        const lease = await this.store.leaseRequests({ ownerId, period: b.period, want: b.want });
        const now = this.opts.now();
        if (lease.limit === null) {
          b.unlimitedUntil = now + this.opts.unlimitedForMs;
          return;
        }
        b.remaining += lease.granted;
        if (lease.granted === 0) b.exhaustedUntil = now + this.opts.exhaustedForMs;
        const rest = lease.limit - lease.leased;
        b.want = Math.max(1, Math.min(this.opts.maxBlock, Math.floor(rest * this.opts.shareOfRest), b.want * 2));
      } catch (err) {
        if (err instanceof AppError) throw err;
        this.log.warn({ err, ownerId }, 'request limit could not be checked');
        throw new AppError('runtime_unavailable', 'the request limit could not be checked; try again');
      } finally {
        b.lease = null;
      }
    })();
    return b.lease;
  }

  private giveBack(ownerId: string, b: Budget): void {
    if (b.remaining <= 0) return;
    const count = b.remaining;
    b.remaining = 0;
    void this.store.releaseRequests({ ownerId, period: b.period, count }).catch((err: unknown) => {
      this.log.warn({ err, ownerId, count }, 'leased requests not given back');
    });
  }

  /** Gives back every owner's leased and unused requests (a gateway shutting down). */
  async close(): Promise<void> {
    await Promise.allSettled(
      [...this.budgets].map(async ([ownerId, b]) => {
        await b.lease?.catch(() => {});
        if (b.remaining > 0) await this.store.releaseRequests({ ownerId, period: b.period, count: b.remaining });
        b.remaining = 0;
      }),
    );
    this.budgets.clear();
  }
}
