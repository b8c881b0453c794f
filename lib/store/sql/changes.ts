import { EVERY_AGENT, RESET_CHANGE, type ChangeStore, type StoreChange } from '../port/index.js';
import type { SqlClient } from './client.js';
import { CHANGES_CHANNEL, SERVING_CHANNEL } from './rows.js';

/** Live updates over LISTEN/NOTIFY: every process on the database hears each commit. */
export function sqlChanges(db: SqlClient): ChangeStore {
  return {
    watchServing: (onChange) => db.listen(SERVING_CHANNEL, onChange, () => onChange(EVERY_AGENT)),
    watchChanges: (onChange) =>
      db.listen(
        CHANGES_CHANNEL,
        (payload) => onChange(JSON.parse(payload) as StoreChange),
        // Missed changes cannot be replayed: watchers re-read everything they show.
        () => onChange(RESET_CHANGE),
      ),
  };
}
