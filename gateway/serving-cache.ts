import { AppError } from '../lib/contracts/index.js';
import { EVERY_AGENT, type ServingTarget, type Store } from '../lib/store/index.js';

/**
 * The gateway's view of which deployment serves each agent, so the invoke hot path does
 * not read the store on every call. Entries are dropped when the store reports a change
 * (LISTEN/NOTIFY, from whichever process made it), and expire after `ttlMs` as a backstop.
 * A generation counter keeps a read that raced with a change from caching the old answer.
 */
export class ServingCache {
  private readonly entries = new Map<string, { target: ServingTarget; ownerId: string; expires: number }>();
  private generation = 0;
  private stop: (() => Promise<void>) | null = null;

  constructor(
    private readonly store: Store,
    private readonly opts: { ttlMs: number; maxEntries: number } = { ttlMs: 5_000, maxEntries: 50_000 },
  ) {}

  async start(): Promise<void> {
    this.stop = await this.store.watchServing((agentId) => {
      this.generation++;
      if (agentId === EVERY_AGENT) this.entries.clear();
      else this.entries.delete(agentId);
    });
  }

  async close(): Promise<void> {
    await this.stop?.();
  }

  /** What serves the agent; a paused agent (its owner's tier no longer covers it) is `entitlement_required`. */
  async get(ownerId: string, agentId: string): Promise<ServingTarget> {
    return refusePaused(await this.lookup(ownerId, agentId));
  }

  private async lookup(ownerId: string, agentId: string): Promise<ServingTarget> {
    const hit = this.entries.get(agentId);
    if (hit && hit.ownerId === ownerId && hit.expires > Date.now()) return hit.target;
    const generation = this.generation;
    const target = await this.store.getServingTarget(ownerId, agentId); // throws not_found for another owner
    if (this.stop && generation === this.generation) {
      if (this.entries.size >= this.opts.maxEntries) this.entries.delete(this.entries.keys().next().value!);
      this.entries.set(agentId, { target, ownerId, expires: Date.now() + this.opts.ttlMs });
    }
    return target;
  }
}

function refusePaused(target: ServingTarget): ServingTarget {
  if (target.agent.pausedAt !== null)
    throw new AppError(
      'entitlement_required',
      "this agent is paused: the account's tier no longer covers it; a tier that covers it resumes it",
    );
  return target;
}
