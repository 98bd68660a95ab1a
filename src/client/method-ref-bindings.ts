// The method references a client has bound on one connection (spec section
// 7.7): the first 256 methods it calls there, each with the next reference
// in the order it first calls them; a binding counts once nothing stops its
// request from being written, and is never changed.

import { MAX_METHOD_REF } from "../wire/request-rules.ts";

/** The references of one connection, by the encoded names of their method (RequestHead.route) [REF-4]. */
export class MethodRefBindings {
  private readonly refs = new Map<Uint8Array, number>();

  /** The reference `route` is bound to on this connection, or 0 [REF-3]. */
  refOf(route: Uint8Array): number {
    return this.refs.get(route) ?? 0;
  }

  /** The reference a request binding a new method would carry, or 0 once all 256 are bound [REF-2]. */
  get next(): number {
    return this.refs.size < MAX_METHOD_REF ? this.refs.size + 1 : 0;
  }

  /** A request binding `ref` to `route` is being written: later requests may send the reference alone [REF-4]. */
  bind(route: Uint8Array, ref: number): void {
    this.refs.set(route, ref);
  }
}
