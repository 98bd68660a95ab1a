// strata-rpc/client: the reference client.
export { createClient, type AckedCall, type CallOptions, type Client, type ClientOptions } from "./client.ts";
export type { CallFailed, CallLayers, CallResult, CallSucceeded, LayerStatus } from "./call-result.ts";
export { fetchServiceRegistry, type ReflectionClient } from "./reflection.ts";
export type { BackoffOptions } from "./subchannel.ts";
export { Subchannel } from "./subchannel.ts";
export { SingleAddressRouter } from "./single-address-router.ts";
export type { CallRoute, FailedOn, Router } from "./router.ts";
export { retryable } from "./outgoing-call.ts";
export { bearer } from "./bearer-token.ts";
export type { CallConnection, CallHandlers, CallTicket, RequestHead } from "./call-ticket.ts";
export type { ClientConnection, ClientConnectionSettings } from "./client-connection.ts";
export type { ClientCallStep, ClientInterceptor, ClientRequest, ClientResponse } from "./interceptor.ts";
