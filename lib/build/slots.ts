/**
 * The builds one worker runs at once, shared fairly between owners: at most `concurrency` run
 * together, and no owner holds more than `perOwner` of them, so one tenant's builds (however
 * many, however slow) always leave a slot for another's. Waiters are served in order of arrival
 * among those whose owner is under its share.
 */
export class BuildSlots {
  private readonly running = new Map<string, number>();
  private readonly waiting: { ownerId: string; grant: () => void }[] = [];
  private inUse = 0;
  readonly perOwner: number;

  constructor(readonly concurrency: number) {
    this.perOwner = Math.max(1, Math.floor(concurrency / 2));
  }

  /** Waits for a slot; resolves to the function that gives it back. `signal` abandons the wait. */
  async acquire(ownerId: string, signal?: AbortSignal): Promise<() => void> {
    if (this.eligible(ownerId) && this.inUse < this.concurrency) this.take(ownerId);
    else {
      // `dispatch` takes the slot on this waiter's behalf before it wakes it
      await new Promise<void>((resolve, reject) => {
        const waiter = { ownerId, grant: resolve };
        this.waiting.push(waiter);
        signal?.addEventListener(
          'abort',
          () => {
            const i = this.waiting.indexOf(waiter);
            if (i >= 0) this.waiting.splice(i, 1);
            reject(signal.reason instanceof Error ? signal.reason : new Error('the build was canceled'));
          },
          { once: true },
        );
      });
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inUse--;
      const n = (this.running.get(ownerId) ?? 1) - 1;
      if (n === 0) this.running.delete(ownerId);
      else this.running.set(ownerId, n);
      this.dispatch();
    };
  }

  private eligible(ownerId: string): boolean {
    return (this.running.get(ownerId) ?? 0) < this.perOwner;
  }

  private take(ownerId: string): void {
    this.inUse++;
    this.running.set(ownerId, (this.running.get(ownerId) ?? 0) + 1);
  }

  private dispatch(): void {
    while (this.inUse < this.concurrency) {
      const i = this.waiting.findIndex((w) => this.eligible(w.ownerId));
      if (i < 0) return;
      const [next] = this.waiting.splice(i, 1);
      this.take(next!.ownerId);
      next!.grant();
    }
  }
}
