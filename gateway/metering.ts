import { AppError, TELEMETRY_BATCH_MAX, type MeteredRequest } from '../lib/contracts/index.js';
import type { Logger } from '../lib/log.js';
import type { UsageStore } from '../lib/store/index.js';

export interface MeterOptions {
  /** How often buffered events are written. */
  flushEveryMs: number;
  /** Events per store call (and a flush starts early once this many wait). */
  batchMax: number;
  /** Events kept while the store cannot take them; past it the oldest are dropped, and counted. */
  bufferMax: number;
}

const DEFAULTS: MeterOptions = { flushEveryMs: 250, batchMax: 500, bufferMax: 200_000 };

/**
 * Request metering off the hot path: the invoke route hands each finished invoke to `record`
 * (an array push); batches go to the store every `flushEveryMs`, or sooner when a batch is
 * full, one write at a time. A failed write keeps its batch for the next round; a batch the
 * store refuses as invalid is dropped and logged (retrying it could never succeed). `close`
 * writes everything left: a clean shutdown loses nothing. A crash loses what was buffered —
 * at most `flushEveryMs` of traffic while the store is healthy (README, Usage).
 */
export class UsageMeter {
  private buffer: MeteredRequest[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | null = null;
  private failing = false;
  private readonly opts: MeterOptions;
  /** Events lost to a full buffer (the store was unreachable for long). */
  dropped = 0;
  /** Events the store has taken. */
  written = 0;

  constructor(
    private readonly store: Pick<UsageStore, 'recordRequests'>,
    private readonly log: Logger,
    opts: Partial<MeterOptions> = {},
  ) {
    this.opts = { ...DEFAULTS, ...opts, batchMax: Math.min(opts.batchMax ?? DEFAULTS.batchMax, TELEMETRY_BATCH_MAX) };
  }

  start(): this {
    this.timer = setInterval(() => void this.flush(), this.opts.flushEveryMs);
    this.timer.unref();
    return this;
  }

  record(event: MeteredRequest): void {
    if (this.buffer.length >= this.opts.bufferMax) {
      this.buffer.shift();
      if (this.dropped++ % 1000 === 0)
        this.log.error({ dropped: this.dropped }, 'usage buffer full: the store is not taking events; oldest dropped');
    }
    this.buffer.push(event);
    if (this.buffer.length >= this.opts.batchMax && !this.flushing && !this.failing) void this.flush();
  }

  /** Buffered events not yet written. */
  get pending(): number {
    return this.buffer.length;
  }

  /** Writes what is buffered, batch by batch; one flush runs at a time. */
  flush(): Promise<void> {
    this.flushing ??= this.drain().finally(() => (this.flushing = null));
    return this.flushing;
  }

  private async drain(): Promise<void> {
    while (this.buffer.length > 0) {
      const batch = this.buffer.slice(0, this.opts.batchMax);
      try {
        await this.store.recordRequests(batch);
        this.buffer.splice(0, batch.length);
        this.written += batch.length;
        if (this.failing) this.log.info({ pending: this.buffer.length }, 'usage events are being written again');
        this.failing = false;
      } catch (err) {
        if (err instanceof AppError && err.code === 'validation_failed') {
          this.buffer.splice(0, batch.length);
          this.log.error({ err, events: batch.length }, 'usage batch refused by the store; dropped');
          continue;
        }
        if (!this.failing) this.log.warn({ err, pending: this.buffer.length }, 'usage events not written; will retry');
        this.failing = true;
        return;
      }
    }
  }

  /** Stops the timer and writes everything left, retrying for at most `timeoutMs`. */
  async close(timeoutMs = 10_000): Promise<void> {
    clearInterval(this.timer);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await this.flush();
      if (this.buffer.length === 0) return;
      if (Date.now() >= deadline) {
        this.log.error({ lost: this.buffer.length }, 'usage events not written before shutdown');
        return;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
