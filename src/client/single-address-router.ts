// The router of a client bound to one address: every call goes to its one
// subchannel. One address has no other connection to offer a retry, so
// `avoid` changes nothing here: a connection that failed by draining or
// closing is no longer the subchannel's usable one anyway [STATUS-3].

import type { RpcError } from "../status/index.ts";
import type { CallConnection } from "./call-ticket.ts";
import { retryable } from "./outgoing-call.ts";
import type { CallRoute, FailedOn, Router } from "./router.ts";
import type { Subchannel } from "./subchannel.ts";

/** Routes every call to one address [DRAIN-3]. */
export class SingleAddressRouter implements Router {
  private readonly subchannel: Subchannel;

  constructor(subchannel: Subchannel) {
    this.subchannel = subchannel;
  }

  pick(_route: CallRoute, _avoid: FailedOn): CallConnection | undefined {
    return this.subchannel.ready();
  }

  connect(_route: CallRoute, deadline: number, signal: AbortSignal | undefined, _avoid: FailedOn, waitForReady = false): Promise<CallConnection> {
    return this.subchannel.acquire(deadline, signal, waitForReady);
  }

  /** One retry, on the next connection, after a drain or a lost connection that proves the request did not run [STATUS-3] [DRAIN-16]. */
  retry(error: RpcError, attempts: number): boolean {
    return attempts === 1 && retryable(error);
  }

  close(): Promise<void> {
    return this.subchannel.close();
  }
}
