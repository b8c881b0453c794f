import type { Rules } from './rules.js';

/** Live updates: committed changes, from any process on the same store. */
export interface ChangeStore {
  /**
   * Calls `onChange(agentId)` after a change to what serves an agent commits (a pointer
   * switch, a delete); `onChange(EVERY_AGENT)` when changes may have been missed. Resolves
   * to a function that stops watching.
   */
  watchServing(onChange: (agentId: string) => void): Promise<() => Promise<void>>;
  /**
   * Every committed change to an owner's agents and deployments. When changes may have been
   * missed (a dropped connection, a gap in a feed) the watcher gets `RESET_CHANGE`, after
   * which it should re-read what it shows.
   */
  watchChanges(onChange: (change: StoreChange) => void): Promise<() => Promise<void>>;
}

export interface StoreChange {
  ownerId: string;
  kind: 'agent' | 'deployment';
  id: string;
}

/** What `watchServing` reports when changes may have been missed: forget what serves every agent. */
export const EVERY_AGENT = '*';

/** What `watchChanges` reports when changes may have been missed: re-read everything shown. */
export const RESET_CHANGE: StoreChange = Object.freeze({ ownerId: '*', kind: 'agent', id: '*' });
export const isReset = (change: StoreChange) => change.ownerId === RESET_CHANGE.ownerId;

export const changeRules: Rules<ChangeStore> = { watchServing: null, watchChanges: null };
