// The `redis` package (node-redis), loaded when strata-rpc/redis is
// imported and only then: it is an optional dependency, so the core and
// every other entry work without it. When it is missing, importing this
// entry fails with a message that says how to install it.
//
// Why node-redis and not ioredis: node-redis is the client Redis itself
// maintains and recommends for new projects, while ioredis is in
// maintenance mode. node-redis 6 runs unchanged on Node, Bun and Deno
// (test/registry-redis.test.ts runs on all three).

import type { createClient as CreateClient } from "redis";

async function load(): Promise<typeof CreateClient> {
  try {
    return (await import("redis")).createClient;
  } catch (error) {
    throw new Error(`strata-rpc/redis needs the redis package (node-redis), which could not be loaded: npm install redis (${(error as Error).message})`, { cause: error });
  }
}

/** node-redis's createClient, for the Redis registry's connections (spec 21.2) [CLUSTER-2]. */
export const createClient: typeof CreateClient = await load();

/** One node-redis client as createClient makes it (spec 21.2). */
export type RedisClient = ReturnType<typeof CreateClient>;
