import { zValidator } from '@hono/zod-validator';
import type { ValidationTargets } from 'hono';
import type { ZodType } from 'zod';
import { AppError } from '../contracts/index.js';

/**
 * `zValidator` that answers bad input with the error envelope (`validation_failed`,
 * the issues as details). Malformed JSON never reaches the schema: hono's JSON parsing
 * fails first and is answered the same way.
 */
export const validate = <T extends ZodType, Target extends keyof ValidationTargets>(target: Target, schema: T) =>
  zValidator(target, schema, (result) => {
    if (!result.success) {
      const issues = result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
      const first = issues[0];
      throw new AppError(
        'validation_failed',
        first ? `${first.path || target}: ${first.message}` : `invalid ${target}`,
        issues,
      );
    }
  });
