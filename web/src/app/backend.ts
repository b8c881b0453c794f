import { skipToken } from '@tanstack/react-query';
import { createContext, useContext } from 'react';
import { api as convexApi } from '../../../convex/_generated/api.js';

/**
 * Which way the views read live state. `embedded`: the REST api through `hc`, made fresh by
 * `/v1/events`; `convex`: the same views subscribe to Convex's identity-scoped dashboard queries
 * (convex/dashboard.ts) through `@convex-dev/react-query`. Writes always go through the api.
 */
export type Mode = 'embedded' | 'convex';
export const ModeContext = createContext<Mode>('embedded');
export const useMode = () => useContext(ModeContext);

export { convexApi };

/** Convex pages (`{ page, isDone, continueCursor }`) in the REST api's shape (`{ items, nextCursor }`). */
export const fromConvexPage = <T>(p: { page: T[]; isDone: boolean; continueCursor: string }) => ({
  items: p.page,
  nextCursor: p.isDone ? null : p.continueCursor,
});

export const FIRST_PAGE = { numItems: 100, cursor: null };

/**
 * A Convex query's options outside Convex mode: skipped (its queryFn is the ConvexQueryClient's
 * default, which exists only in Convex mode). In Convex mode nothing is added, so the default runs.
 */
export const convexOnly = (convex: boolean): { queryFn?: typeof skipToken } => (convex ? {} : { queryFn: skipToken });
