// strata-rpc's cluster layer: endpoints, their sources, and the router that
// balances, routes keys and fails over across many servers (spec section 21).
export { endpoint, endpointRecord, parseEndpointRecord, type Endpoint, type EndpointInit } from "./endpoint.ts";
export type { EndpointListener, EndpointSource, Registrar } from "./endpoint-source.ts";
export { staticEndpoints } from "./static-source.ts";
export { ClusterRouter, type BalancePolicy, type ClusterOptions } from "./cluster-router.ts";
export type { EjectionOptions } from "./endpoint-health.ts";
export type { RetryBudgetOptions } from "./retry-budget.ts";
export { HashRing, ringHash } from "./hash-ring.ts";
export { keyRoutingKey } from "./routing-key.ts";
