// What a handler module for an isolated service exports: the service and
// its handlers, to be run inside the server's worker pool.

import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import type { ServiceImpl } from "../service-registry.ts";

const brand = Symbol.for("strata-rpc.IsolatedService");

/** A service definition with its handlers, as a worker loads it. */
export interface IsolatedService<S extends GenServiceMethods = GenServiceMethods> {
  readonly service: GenService<S>;
  readonly impl: ServiceImpl<S>;
}

/**
 * Declares the handlers of `service` for a module that the server's workers
 * load; the module exports the result as its default export, and the server
 * adds it with `addIsolatedService(service, moduleUrl)`. A crash of a handler
 * fails only its own request, with HANDLER_CRASHED [STATUS-4].
 */
export function defineIsolatedService<S extends GenServiceMethods>(service: GenService<S>, impl: ServiceImpl<S>): IsolatedService<S> {
  const definition = { service, impl };
  Object.defineProperty(definition, brand, { value: true });
  return definition;
}

/** Whether `value` came from defineIsolatedService, also from another copy of this package. */
export function isIsolatedService(value: unknown): value is IsolatedService {
  return typeof value === "object" && value !== null && brand in value;
}
