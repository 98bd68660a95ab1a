// The method references of one server connection (spec section 7.7): a
// request's header binds a reference or names the method bound to it. A
// binding holds no more than the method it names, with the names the server
// offers it under, or the code its names got when the server offers no such
// method: a client cannot make the server keep names of its own.

import { DispatchCode, type FrameHeader } from "../wire/index.ts";
import { MAX_METHOD_REF } from "../wire/request-rules.ts";
import type { Refusal } from "./admission.ts";
import type { RegisteredMethod, ServiceRegistry } from "./service-registry.ts";

/** A reference bound to a method the server offers. */
interface Binding {
  readonly service: string;
  readonly method: string;
  readonly target: RegisteredMethod;
}

/** A binding of names the server does not offer: the code every request naming it gets. */
type UnofferedBinding = DispatchCode; // UNKNOWN_SERVICE or UNKNOWN_METHOD

function invalid(message: string): Refusal {
  return { code: DispatchCode.INVALID_REQUEST, message };
}

/** The bindings of one connection, made as headers are read [REF-2] [REF-3]. */
export class MethodRefTable {
  /** By reference, 1 to 256; grows only as far as the highest reference bound. */
  private readonly bindings: Array<Binding | UnofferedBinding | undefined> = [];

  /**
   * Takes a REQUEST header's non-zero `method_ref`: with both names, binds
   * it (whatever becomes of the request) and returns undefined, the request
   * naming its method by its names [REF-2]; alone, fills in the bound names
   * and returns the method, or the refusal the request gets [REF-3].
   */
  take(header: FrameHeader, registry: ServiceRegistry): RegisteredMethod | Refusal | undefined {
    const ref = header.methodRef;
    if (ref > MAX_METHOD_REF) return invalid(`method_ref ${ref} is above ${MAX_METHOD_REF} [REF-3]`);
    const { service, method } = header;
    if (service !== "" && method !== "") {
      this.bind(ref, service, method, registry);
      return undefined;
    }
    if (service !== "" || method !== "") return invalid("a method_ref comes with both service and method, or with neither [REF-3]");
    const bound = this.bindings[ref];
    if (bound === undefined) return invalid(`method_ref ${ref} is not bound on this connection [REF-3]`);
    if (typeof bound === "number") {
      const what = bound === DispatchCode.UNKNOWN_SERVICE ? "service" : "method";
      return { code: bound, message: `method_ref ${ref} is bound to a ${what} this server does not offer [REF-3]` };
    }
    header.service = bound.service;
    header.method = bound.method;
    return bound.target;
  }

  private bind(ref: number, service: string, method: string, registry: ServiceRegistry): void {
    const methods = registry.service(service);
    const target = methods?.get(method);
    if (target !== undefined) this.bindings[ref] = { service, method, target };
    else this.bindings[ref] = methods === undefined ? DispatchCode.UNKNOWN_SERVICE : DispatchCode.UNKNOWN_METHOD;
  }
}
