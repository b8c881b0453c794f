import { QueryClient } from '@tanstack/react-query';
import { ApiError } from './errors.js';

/**
 * Queries are made fresh by live updates (SSE or Convex), not by polling or window focus. A
 * refusal (4xx) is shown at once; a server error or a dropped connection is tried twice more.
 */
export function createQueryClient(extra: ConstructorParameters<typeof QueryClient>[0] = {}) {
  return new QueryClient({
    ...extra,
    defaultOptions: {
      ...extra.defaultOptions,
      queries: {
        staleTime: 30_000,
        refetchOnWindowFocus: false,
        retry: (failures, err) => !(err instanceof ApiError && err.status < 500) && failures < 2,
        ...extra.defaultOptions?.queries,
      },
    },
  });
}
