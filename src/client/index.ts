// strata-rpc/client: the reference client.
export { createClient, type AckedCall, type CallOptions, type Client, type ClientOptions } from "./client.ts";
export type { CallResult, LayerStatus } from "./call-result.ts";
export type { BackoffOptions } from "./channel.ts";
