import { AppError } from '../contracts/index.js';
import { storeRules, type Store } from './port/index.js';

/**
 * Wraps an adapter so that every operation refuses malformed or oversized arguments with
 * `validation_failed` before it reaches the database: the same checks for every adapter, and
 * never a partial write. Applied once, by `openStore`.
 */
export function validatingStore(inner: Store): Store {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      const rule = storeRules[prop as keyof Store];
      if (typeof value !== 'function' || !rule) return typeof value === 'function' ? value.bind(target) : value;
      return (...args: unknown[]) => {
        const parsed = rule.safeParse(args);
        if (!parsed.success) {
          const issue = parsed.error.issues[0];
          const where = issue
            ? `${issue.path.slice(1).join('.') || 'argument'}: ${issue.message}`
            : 'invalid arguments';
          return Promise.reject(new AppError('validation_failed', `${String(prop)}: ${where}`));
        }
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}
