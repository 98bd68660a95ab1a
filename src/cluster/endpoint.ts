// An endpoint: one server a cluster client may call, with the attributes a
// registry stores about it, and its record format (spec 21.1).

/** One server a cluster client may call [CLUSTER-1]. */
export interface Endpoint {
  /** Unique within the cluster; stable across the server's restarts where it can be. */
  readonly id: string;
  /** In the client's address syntax: "host:port", "tcp://host:port", "unix:/path". */
  readonly address: string;
  /** The service groups it belongs to. */
  readonly groups: readonly string[];
  /** A positive integer scaling its share of calls and of the hash ring [CLUSTER-8]. */
  readonly weight: number;
  readonly zone?: string;
  /** Text values for the application. */
  readonly metadata: Readonly<Record<string, string>>;
}

/** An endpoint as written by hand: only the address is needed; the id defaults to the address. */
export interface EndpointInit {
  id?: string;
  address: string;
  groups?: readonly string[];
  weight?: number;
  zone?: string;
  metadata?: Readonly<Record<string, string>>;
}

/** Why `value` is not an endpoint record, or undefined when it is one [CLUSTER-1]. */
function recordProblem(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "not a JSON object";
  const v = value as Record<string, unknown>;
  if (v.id !== undefined && (typeof v.id !== "string" || v.id === "")) return "id is not a non-empty string";
  if (typeof v.address !== "string" || v.address === "") return "address is not a non-empty string";
  if (v.groups !== undefined && !(Array.isArray(v.groups) && v.groups.every((g) => typeof g === "string"))) return "groups is not an array of strings";
  if (v.weight !== undefined && !(Number.isInteger(v.weight) && (v.weight as number) >= 1 && (v.weight as number) <= 1000)) return "weight is not an integer from 1 to 1000";
  if (v.zone !== undefined && typeof v.zone !== "string") return "zone is not a string";
  if (v.metadata !== undefined) {
    const m = v.metadata;
    if (typeof m !== "object" || m === null || Array.isArray(m) || !Object.values(m).every((x) => typeof x === "string")) return "metadata is not an object of strings";
  }
  return undefined;
}

/** A checked, frozen endpoint with the defaults filled in; throws a TypeError naming what is wrong [CLUSTER-1]. */
export function endpoint(init: EndpointInit): Endpoint {
  const problem = recordProblem(init);
  if (problem !== undefined) throw new TypeError(`bad endpoint ${JSON.stringify(init)}: ${problem} [CLUSTER-1]`);
  return Object.freeze({
    id: init.id ?? init.address,
    address: init.address,
    groups: Object.freeze([...(init.groups ?? [])]),
    weight: init.weight ?? 1,
    ...(init.zone !== undefined ? { zone: init.zone } : {}),
    metadata: Object.freeze({ ...(init.metadata ?? {}) }),
  });
}

/** The endpoint in a record's JSON text, or why it is not one: a record needs an id here [CLUSTER-1]. */
export function parseEndpointRecord(text: string): Endpoint | { problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { problem: `not JSON: ${(error as Error).message}` };
  }
  if (typeof value === "object" && value !== null && typeof (value as { id?: unknown }).id !== "string") return { problem: "id is not a non-empty string" };
  const problem = recordProblem(value);
  return problem !== undefined ? { problem } : endpoint(value as EndpointInit);
}

/** The record of `endpoint`, as registries store it (spec 21.1). */
export function endpointRecord(e: Endpoint): string {
  return JSON.stringify({ id: e.id, address: e.address, groups: e.groups, weight: e.weight, ...(e.zone !== undefined ? { zone: e.zone } : {}), metadata: e.metadata });
}
