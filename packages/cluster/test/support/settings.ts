/**
 * Effect Cluster settings of the tests. Upstream's multi-runner tests use a 1.75 s lock expiration refreshed every
 * 500 ms; here runners share two cores with their codex processes and PostgreSQL, and a runner that misses its
 * refresh loses its shards mid-turn, so the locks last longer. A runner that dies loses its PostgreSQL session, and
 * with it its advisory locks, at once.
 */
export const fastSharding = {
  entityMessagePollInterval: 500,
  shardLockExpiration: 10_000,
  shardLockRefreshInterval: 2_500
} as const
