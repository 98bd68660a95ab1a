// Where an endpoint lives in etcd (spec 21.2): the key
// "<prefix>/<cluster>/endpoints/<id>", so that every endpoint of one
// cluster lies in the range of the key prefix "<prefix>/<cluster>/endpoints/".

/** The prefix options shared by the etcd registrar and source (spec 21.2). */
export interface EtcdLayoutOptions {
  /** The registry prefix, default "strata". */
  prefix?: string;
  /** The cluster's name, joined to the prefix with "/"; default "default", giving "strata/default". */
  cluster?: string;
}

/** The etcd keys of one cluster (spec 21.2) [CLUSTER-2]. */
export interface EtcdLayout {
  /** "<prefix>/<cluster>", which the spec's table calls <prefix>. */
  readonly base: string;
  /** "<base>/endpoints/": every endpoint key starts with it. */
  readonly endpoints: string;
  /** The key holding the record of endpoint `id`. */
  record(id: string): string;
  /** The endpoint id of an endpoint key. */
  idOf(key: string): string;
}

/** The layout for `options`; throws a TypeError for an empty prefix or cluster name (spec 21.2) [CLUSTER-2]. */
export function etcdLayout(options: EtcdLayoutOptions): EtcdLayout {
  const prefix = options.prefix ?? "strata";
  const cluster = options.cluster ?? "default";
  if (prefix === "" || cluster === "") throw new TypeError(`an etcd registry needs a non-empty prefix and cluster name, got ${JSON.stringify({ prefix, cluster })}`);
  const base = `${prefix}/${cluster}`;
  const endpoints = `${base}/endpoints/`;
  return {
    base,
    endpoints,
    record: (id) => `${endpoints}${id}`,
    idOf: (key) => key.slice(endpoints.length),
  };
}
