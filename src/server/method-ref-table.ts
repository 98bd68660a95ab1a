// The method references of one server connection (spec section 7.7): a
// request's header binds a reference to its names, or names the method
// bound to it. A binding keeps the names, not what they named when bound:
// services added later, or a handler replaced, are found by reference as by
// name. The names a connection binds are bounded in all, so that a client
// cannot make the server keep more than a few requests' worth of them.

import { DispatchCode, type FrameHeader } from "../wire/index.ts";
import { MAX_BOUND_NAME_BYTES, MAX_METHOD_REF } from "../wire/request-rules.ts";
import type { Refusal } from "./admission.ts";

/** A reference's names. */
interface Binding {
  readonly service: string;
  readonly method: string;
}

function invalid(message: string): Refusal {
  return { code: DispatchCode.INVALID_REQUEST, message };
}

/** The bindings of one connection, made as headers are read [REF-2] [REF-3]. */
export class MethodRefTable {
  /** By reference, 1 to 256; grows only as far as the highest reference bound. */
  private readonly bindings: Array<Binding | undefined> = [];
  /** UTF-16 units of the names bound now, all bindings together: at most MAX_BOUND_NAME_BYTES. */
  private units = 0;

  /**
   * Takes a REQUEST header's non-zero `method_ref`: with both names, binds
   * it, whatever becomes of the request [REF-2]; alone, fills in the bound
   * names [REF-3]. Undefined when the request goes on by its names; else the
   * refusal it gets (INVALID_REQUEST, not processed).
   */
  take(header: FrameHeader): Refusal | undefined {
    const ref = header.methodRef;
    if (ref > MAX_METHOD_REF) return invalid(`method_ref ${ref} is above ${MAX_METHOD_REF} [REF-3]`);
    const { service, method } = header;
    if (service !== "" && method !== "") {
      this.bind(ref, service, method);
      return undefined;
    }
    if (service !== "" || method !== "") return invalid("a method_ref comes with both service and method, or with neither [REF-3]");
    const bound = this.bindings[ref];
    if (bound === undefined) return invalid(`method_ref ${ref} is not bound on this connection [REF-3]`);
    header.service = bound.service;
    header.method = bound.method;
    return undefined;
  }

  /** Binds `ref` to the names, replacing its binding; past the bound on names, leaves it unbound instead [REF-2]. */
  private bind(ref: number, service: string, method: string): void {
    const earlier = this.bindings[ref];
    if (earlier !== undefined) this.units -= earlier.service.length + earlier.method.length;
    const units = service.length + method.length;
    if (this.units + units > MAX_BOUND_NAME_BYTES) {
      this.bindings[ref] = undefined;
      return;
    }
    this.units += units;
    this.bindings[ref] = { service, method };
  }
}
