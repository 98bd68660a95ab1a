// strata-rpc/etcd: endpoint discovery and registration in etcd v3 (spec
// 21.2), through etcd's JSON gateway over the global fetch: no dependency,
// and the same code on Node, Bun, Deno and in browsers.
export { etcdEndpoints, type EtcdEndpointsOptions } from "./etcd-source.ts";
export { etcdRegistrar, type EtcdRegistrarOptions } from "./etcd-registrar.ts";
export { etcdLayout, type EtcdLayout, type EtcdLayoutOptions } from "./etcd-keys.ts";
export { EtcdError, type Fetch } from "./etcd-gateway.ts";
