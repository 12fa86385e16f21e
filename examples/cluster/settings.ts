/**
 * Effect Cluster settings of the local cluster, for its runners and its client. Upstream's multi-runner tests lock
 * shards for 1.75 s, refreshed every 500 ms; here runners share the machine's cores with their codex processes and
 * PostgreSQL, and a runner that misses its refresh loses its shards (and its running turns are cut), so the locks
 * last longer. A runner that dies loses its PostgreSQL session, and with it its advisory locks, at once; the others
 * ping each other every second (upstream: every minute) and refresh the shard assignments every second (upstream:
 * 3 s), so its shards move a few seconds after its death rather than when its heartbeat expires (bench case 9).
 */
export const sharding = {
  entityMessagePollInterval: 500,
  shardLockExpiration: 10_000,
  shardLockRefreshInterval: 2_500,
  runnerHealthCheckInterval: 1_000,
  refreshAssignmentsInterval: 1_000
} as const
