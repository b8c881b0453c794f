import { z, type ZodType } from 'zod';

/**
 * For each operation of a port, the shape of its arguments as a tuple, or null for an
 * operation that takes none worth checking (a callback, `close`). `validatingStore` checks
 * every call against these before it reaches an adapter.
 */
export type Rules<Port> = { [K in keyof Port]: ZodType | null };

export const Instant = z.date().refine((d) => !Number.isNaN(d.getTime()), 'a valid date');
export const PageArgs = z.object({ limit: z.number().int().min(1).max(100), cursor: z.string().max(400).optional() });
export const Short = (max: number) => z.string().min(1).max(max);
