// The router of a client bound to one address: every call goes to its one
// subchannel. One address has no other connection to offer a retry, so
// `avoid` changes nothing here: a connection that failed by draining or
// closing is no longer the subchannel's usable one anyway [STATUS-3].

import type { CallConnection } from "./call-ticket.ts";
import type { CallRoute, Router } from "./router.ts";
import type { Subchannel } from "./subchannel.ts";

/** Routes every call to one address [DRAIN-3]. */
export class SingleAddressRouter implements Router {
  private readonly subchannel: Subchannel;

  constructor(subchannel: Subchannel) {
    this.subchannel = subchannel;
  }

  pick(_route: CallRoute, _avoid: CallConnection | undefined): CallConnection | undefined {
    return this.subchannel.ready();
  }

  connect(_route: CallRoute, deadline: number, signal: AbortSignal | undefined, _avoid: CallConnection | undefined, waitForReady = false): Promise<CallConnection> {
    return this.subchannel.acquire(deadline, signal, waitForReady);
  }

  close(): Promise<void> {
    return this.subchannel.close();
  }
}
