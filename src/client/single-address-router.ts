// The router of a client bound to one address: every call goes to its one
// subchannel; a retry that must avoid the connection that failed waits for
// a fresh one [STATUS-3].

import type { CallConnection } from "./call-ticket.ts";
import type { CallRoute, Router } from "./router.ts";
import type { Subchannel } from "./subchannel.ts";

/** Routes every call to one address [DRAIN-3]. */
export class SingleAddressRouter implements Router {
  private readonly subchannel: Subchannel;

  constructor(subchannel: Subchannel) {
    this.subchannel = subchannel;
  }

  pick(_route: CallRoute, avoid: CallConnection | undefined): CallConnection | undefined {
    const ready = this.subchannel.ready();
    return ready === avoid ? undefined : ready;
  }

  connect(_route: CallRoute, deadline: number, signal: AbortSignal | undefined, avoid: CallConnection | undefined): Promise<CallConnection> {
    return this.subchannel.acquire(deadline, signal, avoid);
  }

  close(): Promise<void> {
    return this.subchannel.close();
  }
}
