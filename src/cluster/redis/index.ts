// strata-rpc/redis: endpoint discovery and registration in Redis (spec
// 21.2), through node-redis, which this entry loads and which must be
// installed (npm install redis).
export { redisEndpoints, type RedisEndpointsOptions } from "./redis-source.ts";
export { redisRegistrar, type RedisRegistrarOptions } from "./redis-registrar.ts";
export { redisLayout, type RedisLayout, type RedisLayoutOptions } from "./redis-keys.ts";
