import { isReset, type Store, type StoreChange } from '../lib/store/index.js';

type Listener = (change: StoreChange) => void;

/**
 * One subscription to the store's change notifications (LISTEN/NOTIFY), fanned out to the
 * dashboard's SSE connections by owner: a listener hears only its own owner's changes,
 * plus resets (`RESET_CHANGE`) after which it should re-read everything.
 */
export class ChangeFeed {
  private readonly byOwner = new Map<string, Set<Listener>>();
  private stop: (() => Promise<void>) | null = null;

  constructor(private readonly store: Store) {}

  async start(): Promise<void> {
    this.stop = await this.store.watchChanges((change) => {
      const targets = isReset(change)
        ? [...this.byOwner.values()].flatMap((s) => [...s])
        : [...(this.byOwner.get(change.ownerId) ?? [])];
      for (const listener of targets) listener(change);
    });
  }

  subscribe(ownerId: string, listener: Listener): () => void {
    let set = this.byOwner.get(ownerId);
    if (!set) this.byOwner.set(ownerId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.byOwner.delete(ownerId);
    };
  }

  async close(): Promise<void> {
    await this.stop?.();
  }
}
