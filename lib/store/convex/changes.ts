import type { FunctionReturnType } from 'convex/server';
import { api } from '../../../convex/_generated/api.js';
import { CHANGE_WINDOW } from '../../../convex/watch.js';
import { EVERY_AGENT, RESET_CHANGE, type ChangeStore } from '../port/index.js';
import type { ConvexCaller } from './call.js';

type Change = FunctionReturnType<typeof api.watch.recent>[number];

/**
 * Follows a subscription to the newest changes (newest first, `window` at most): calls
 * `onNew` for each change the previous result did not hold, oldest first, and `onGap` when
 * a whole window is new, since more may have happened in between than one result shows.
 * The first result is where watching starts: it reports nothing.
 */
export function followChanges<C extends { changeId: string }>(
  window: number,
  onNew: (change: C) => void,
  onGap: () => void,
): (newestFirst: C[]) => void {
  let seen: Set<string> | null = null;
  return (newestFirst) => {
    if (seen !== null) {
      const before = seen;
      const fresh = newestFirst.filter((c) => !before.has(c.changeId));
      if (fresh.length === window) onGap();
      for (const change of fresh.reverse()) onNew(change);
    }
    seen = new Set(newestFirst.map((c) => c.changeId));
  };
}

/** Live updates from a subscription to `watch.recent` (convex/watch.ts). */
export function convexChanges(call: ConvexCaller): ChangeStore {
  /** Subscribes; resolves, to a function that stops, once the first result is in. */
  const follow = (
    servingOnly: boolean,
    onNew: (change: Change) => void,
    onGap: () => void,
  ): Promise<() => Promise<void>> => {
    const { transport, secret } = call;
    if (!transport.subscribe) {
      return Promise.reject(new Error('watching is not supported by this transport: it has no subscriptions'));
    }
    return new Promise((resolve, reject) => {
      const next = followChanges(CHANGE_WINDOW, onNew, onGap);
      let started = false;
      const stop = transport.subscribe!(
        api.watch.recent,
        { servingOnly, secret },
        (window) => {
          next(window);
          if (!started) resolve(async () => stop());
          started = true;
        },
        (err) => {
          if (started) return onGap();
          stop();
          reject(err);
        },
      );
    });
  };

  return {
    watchServing: (onChange) =>
      follow(
        true,
        (c) => onChange(c.id),
        () => onChange(EVERY_AGENT),
      ),
    watchChanges: (onChange) =>
      follow(
        false,
        ({ ownerId, kind, id }) => onChange({ ownerId, kind, id }),
        () => onChange(RESET_CHANGE),
      ),
  };
}
