// A request's routing key: what the hash ring places, taken from its keys'
// {tags} or named by the call [CLUSTER-7].

/** The routing key of one key: the text in its first non-empty {…}, else the whole key [CLUSTER-7]. */
export function keyRoutingKey(key: string): string {
  const open = key.indexOf("{");
  if (open >= 0) {
    const close = key.indexOf("}", open + 1);
    if (close > open + 1) return key.slice(open + 1, close);
  }
  return key;
}

/**
 * The routing key of a request with `keys` and the call's own `routingKey`
 * (either may be absent), or a problem when its keys route apart or the
 * call names a different one [CLUSTER-7].
 */
export function requestRoutingKey(keys: readonly string[], routingKey: string | undefined): string | { problem: string } | undefined {
  if (keys.length === 0) return routingKey;
  const first = keyRoutingKey(keys[0]!);
  for (let i = 1; i < keys.length; i++) {
    const other = keyRoutingKey(keys[i]!);
    if (other !== first) {
      return { problem: `keys ${JSON.stringify(keys[0])} and ${JSON.stringify(keys[i])} have different routing keys (${JSON.stringify(first)}, ${JSON.stringify(other)}), so no one server owns both; give them a shared {tag} [CLUSTER-7]` };
    }
  }
  if (routingKey !== undefined && routingKey !== first) {
    return { problem: `routingKey ${JSON.stringify(routingKey)} differs from the keys' routing key ${JSON.stringify(first)} [CLUSTER-7]` };
  }
  return first;
}
