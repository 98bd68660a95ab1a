// The heads of the calls one client makes: each method's service and method
// header fields encoded once for every client in the process (encodeRoute:
// a connection binds a method reference to those bytes, so two clients of
// one router share its bindings), and, for the calls with no
// metadata, keys, group or routing key (most calls), one head per method
// and call mode made once. Those heads are frozen, as are the empty lists
// they share: routers are handed them, and one that changed a head would
// change every later call of its method.

import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { CallMode, encodeRoute, type MetadataEntry } from "../wire/index.ts";
import type { RequestHead } from "./call-ticket.ts";

/** The empty metadata and keys every call without them shares; frozen, so that no router or interceptor can write to it. */
export const NONE = Object.freeze([]) as unknown as never[];

/** Each method's encoded route, shared by every client of its service: a connection's bindings are keyed by these bytes [REF-2]. */
const ROUTES = new WeakMap<DescMethod, Uint8Array>();

/** `method`'s service and method header fields, encoded the first time any client asks. */
function routeOf(method: DescMethod): Uint8Array {
  let route = ROUTES.get(method);
  if (route === undefined) {
    route = encodeRoute(method.parent.typeName, method.name);
    ROUTES.set(method, route);
  }
  return route;
}

/** A call's head; one constructor for all, so every head has the same shape. */
function requestHead(service: string, method: string, callMode: CallMode, metadata: MetadataEntry[], keys: string[], group: string | undefined, routingKey: string | undefined, route: Uint8Array | undefined): RequestHead {
  return { service, method, callMode, metadata, keys, group, routingKey, route };
}

/** The heads of one client's calls, by method [FRAME-1] [KEYS-9]. */
export class CallHeads {
  private readonly service: string;
  /** Each method's service and method header fields (routeOf). */
  private readonly routes: Map<DescMethod, Uint8Array>;
  /** Each method's head for a plain call, by call mode (UNARY 0, ONEWAY 1, ACKED 2). */
  private readonly plain: Map<DescMethod, RequestHead[]>;

  constructor(desc: DescService) {
    this.service = desc.typeName;
    this.routes = new Map(desc.methods.map((method) => [method, routeOf(method)]));
    this.plain = new Map(
      desc.methods.map((method) => [
        method,
        [CallMode.UNARY, CallMode.ONEWAY, CallMode.ACKED].map((callMode) =>
          Object.freeze(requestHead(desc.typeName, method.name, callMode, NONE, NONE, undefined, undefined, this.routes.get(method))),
        ),
      ]),
    );
  }

  /** The head of a call of `method`: the plain one made once when the call has no metadata, keys, group or routing key. */
  head(method: DescMethod, mode: CallMode, metadata: MetadataEntry[], keys: string[], group: string | undefined, routingKey: string | undefined): RequestHead {
    if (metadata === NONE && keys === NONE && group === undefined && routingKey === undefined) return this.plain.get(method)![mode]!;
    return requestHead(this.service, method.name, mode, metadata, keys, group, routingKey, this.routes.get(method));
  }
}
