// Where an endpoint lives in Redis (spec 21.2): the record's key, the
// index sorted set and the change channel, all under one prefix made of
// the registry prefix and the cluster name, e.g. "strata:payments".

/** The prefix options shared by the Redis registrar and source (spec 21.2). */
export interface RedisLayoutOptions {
  /** The registry prefix, default "strata". */
  prefix?: string;
  /** The cluster's name, joined to the prefix with ":"; default "default", giving "strata:default". */
  cluster?: string;
}

/** The Redis keys and channel of one cluster (spec 21.2) [CLUSTER-2]. */
export interface RedisLayout {
  /** "<prefix>:<cluster>", which the spec's table calls <prefix>. */
  readonly base: string;
  /** The string key holding the record of endpoint `id`, with a PX expiry. */
  record(id: string): string;
  /** The sorted set of endpoint ids, scored by their record's expiry in Unix ms. */
  readonly index: string;
  /** The pub/sub channel that carries an endpoint id after each write or removal. */
  readonly channel: string;
}

/** The layout for `options`; throws a TypeError for an empty prefix or cluster name (spec 21.2). */
export function redisLayout(options: RedisLayoutOptions): RedisLayout {
  const prefix = options.prefix ?? "strata";
  const cluster = options.cluster ?? "default";
  if (prefix === "" || cluster === "") throw new TypeError(`a Redis registry needs a non-empty prefix and cluster name, got ${JSON.stringify({ prefix, cluster })}`);
  const base = `${prefix}:${cluster}`;
  return {
    base,
    record: (id) => `${base}:endpoint:${id}`,
    index: `${base}:endpoints`,
    channel: `${base}:changes`,
  };
}

