// Mutants for the conformance suite's drain cases (round 2); see mutants.ts.
// Each is a drain bug of a server that passes a drain on one quiet
// connection: it shows only with other connections, requests in flight,
// requests arriving, or a second GOAWAY.
import { CallMode, decodeGoaway, DispatchCode, encodeFrame, encodeGoaway, FrameType, GoawayCode, type Frame } from "../../src/wire/index.ts";
import { addressNotingTransport, requestHeaders, sideConnection } from "./drain-side-connection.ts";
import type { Mutant, ProxiedConnection } from "./mutating-proxy.ts";

/** Per-connection bookkeeping the drain mutants share. */
interface DrainState {
  /** The highest REQUEST id the client sent. */
  highestId: number;
  /** Unary and acked requests forwarded and not yet answered. */
  owed: Set<number>;
  /** The last_request_id of the server's first GOAWAY, once it has sent one. */
  goawayLastId: number | undefined;
  goaways: number;
}

function drainState(connection: ProxiedConnection): DrainState {
  return (connection.state["drain"] ??= { highestId: 0, owed: new Set(), goawayLastId: undefined, goaways: 0 }) as DrainState;
}

/** Notes a client frame in the connection's DrainState. */
function noteClient(frame: Frame, connection: ProxiedConnection): DrainState {
  const s = drainState(connection);
  if (frame.header.type === FrameType.REQUEST) {
    s.highestId = Math.max(s.highestId, frame.header.requestId);
    if (frame.header.callMode !== CallMode.ONEWAY) s.owed.add(frame.header.requestId);
  }
  return s;
}

/** Notes a server frame in the connection's DrainState. */
function noteServer(frame: Frame, connection: ProxiedConnection): DrainState {
  const s = drainState(connection);
  if (frame.header.type === FrameType.RESPONSE) s.owed.delete(frame.header.requestId);
  if (frame.header.type === FrameType.GOAWAY) {
    s.goaways++;
    s.goawayLastId ??= decodeGoaway(frame.body).lastRequestId;
  }
  return s;
}

const isDrainGoaway = (frame: Frame) => frame.header.type === FrameType.GOAWAY && decodeGoaway(frame.body).code === GoawayCode.NO_ERROR;

/** Open connections of the mutant's server, for the mutants that act across connections. */
const open = new Set<ProxiedConnection>();
/** Connections that have sent a drain's GOAWAY and not yet closed. */
const draining = new Set<ProxiedConnection>();

export const drainMutants: Mutant[] = [
  {
    name: "drain-goaway-on-every-connection",
    description: "Drain shuts the whole server down: every open connection gets GOAWAY(NO_ERROR), refuses new requests and closes [CONF-7]",
    caughtBy: ["drain/other-connections-not-drained", "drain/connection-age"],
    clientFrame(frame, connection) {
      open.add(connection);
      if (connection.state["drainedByOther"] && frame.header.type === FrameType.REQUEST) {
        if (frame.header.callMode !== CallMode.ONEWAY) {
          connection.toClient(encodeFrame({ type: FrameType.RESPONSE, requestId: frame.header.requestId, dispatchCode: DispatchCode.SHUTTING_DOWN, dispatchMessage: "the server is shutting down" }));
        }
        return [];
      }
      noteClient(frame, connection);
      return [frame];
    },
    serverFrame(frame, connection) {
      const s = noteServer(frame, connection);
      if (connection.state["drainedByOther"]) {
        if (frame.header.type === FrameType.GOAWAY) return [];
        if (s.owed.size === 0) setImmediate(() => connection.endClient());
        return [frame];
      }
      if (isDrainGoaway(frame)) {
        for (const other of open) {
          if (other === connection || other.state["drainedByOther"] || drainState(other).goaways > 0) continue;
          const t = drainState(other);
          other.state["drainedByOther"] = true;
          other.toClient(encodeFrame({ type: FrameType.GOAWAY }, encodeGoaway({ lastRequestId: t.highestId, code: GoawayCode.NO_ERROR, message: "server is shutting down" })));
          if (t.owed.size === 0) other.endClient();
        }
      }
      return [frame];
    },
    passServerClose(connection) {
      open.delete(connection);
      return true;
    },
  },
  {
    name: "drain-second-goaway-highest-id",
    description: "a later GOAWAY names the highest id read, counting requests refused SHUTTING_DOWN after the first GOAWAY [DRAIN-5]",
    caughtBy: ["drain/request-between-two-goaways"],
    clientFrame(frame, connection) {
      noteClient(frame, connection);
      return [frame];
    },
    serverFrame(frame, connection) {
      const s = noteServer(frame, connection);
      if (frame.header.type !== FrameType.GOAWAY || s.goaways < 2) return [frame];
      const goaway = decodeGoaway(frame.body);
      return [{ header: frame.header, body: encodeGoaway({ ...goaway, lastRequestId: Math.max(goaway.lastRequestId, s.highestId) }) }];
    },
  },
  {
    name: "drain-runs-oneway-above-last-id",
    description: "checks last_request_id only for requests it must answer: a oneway request above it, arriving after the GOAWAY, still runs [DRAIN-2]",
    serverOptions: () => ({ transport: addressNotingTransport }),
    caughtBy: ["drain/request-between-two-goaways", "drain/eof-after-request-above-last-id"],
    clientFrame(frame, connection) {
      const last = drainState(connection).goawayLastId;
      if (frame.header.type === FrameType.REQUEST && frame.header.callMode === CallMode.ONEWAY && last !== undefined && frame.header.requestId > last) {
        sideConnection(connection).run(frame);
        return [];
      }
      return [frame];
    },
    serverFrame(frame, connection) {
      noteServer(frame, connection);
      return [frame];
    },
  },
  {
    name: "drain-last-id-counts-partial-frame",
    description: "counts a REQUEST as received once its header is read, so the drain's GOAWAY names a request whose body is still arriving, which it then refuses SHUTTING_DOWN [DRAIN-2]",
    caughtBy: ["drain/request-arriving-at-goaway"],
    clientBytes(chunk, connection) {
      requestHeaders(connection).push(chunk);
      return true;
    },
    serverFrame(frame, connection) {
      if (!isDrainGoaway(frame)) return [frame];
      const goaway = decodeGoaway(frame.body);
      return [{ header: frame.header, body: encodeGoaway({ ...goaway, lastRequestId: Math.max(goaway.lastRequestId, requestHeaders(connection).highestHeaderId) }) }];
    },
  },
  {
    name: "drain-admits-by-header-time",
    description: "decides SHUTTING_DOWN when a REQUEST's header is read: a request whose header came before the GOAWAY runs, though last_request_id excludes it [DRAIN-2]",
    serverOptions: () => ({ transport: addressNotingTransport }),
    caughtBy: ["drain/request-arriving-at-goaway"],
    clientBytes(chunk, connection) {
      requestHeaders(connection).push(chunk);
      return true;
    },
    clientFrame(frame, connection) {
      if (frame.header.type === FrameType.REQUEST && frame.header.requestId === connection.state["admittedEarly"]) {
        sideConnection(connection).run(frame);
        return [];
      }
      return [frame];
    },
    serverFrame(frame, connection) {
      if (isDrainGoaway(frame) && connection.state["admittedEarly"] === undefined) connection.state["admittedEarly"] = requestHeaders(connection).arriving;
      return [frame];
    },
  },
  {
    name: "drain-closes-all-when-one-drained",
    description: "one server-wide 'drained' callback: when the first draining connection has answered everything, every draining connection is closed, requests still unanswered [DRAIN-4]",
    caughtBy: ["drain/several-connections-at-once"],
    serverFrame(frame, connection) {
      if (connection.state["cut"]) return [];
      if (isDrainGoaway(frame)) draining.add(connection);
      return [frame];
    },
    onServerEnd(connection) {
      const wasDraining = draining.delete(connection);
      connection.endClient();
      if (!wasDraining) return;
      for (const other of draining) {
        other.state["cut"] = true;
        other.endClient();
      }
      draining.clear();
    },
  },
  {
    name: "drain-drops-queued-oneway",
    description: "removes oneway requests still queued behind a key when the connection drains or ends, as it does unary ones [DRAIN-15]",
    // Also caught by the earlier drain/queued-oneway-runs-after-eof, since the same mistake shows at EOF.
    caughtBy: ["drain/queued-oneway-runs-during-grace", "drain/queued-oneway-runs-after-eof"],
    // The server is made to hold keyed oneway requests as acked ones (their ACK and RESPONSE are swallowed), so that a CANCEL at the drain, or EOF, removes them.
    clientFrame(frame, connection) {
      if (frame.header.type !== FrameType.REQUEST || frame.header.callMode !== CallMode.ONEWAY || frame.header.keys.length === 0) return [frame];
      ((connection.state["oneway"] ??= new Set<number>()) as Set<number>).add(frame.header.requestId);
      return [{ header: { ...frame.header, callMode: CallMode.ACKED }, body: frame.body }];
    },
    serverFrame(frame, connection) {
      const oneway = (connection.state["oneway"] ?? new Set<number>()) as Set<number>;
      if ((frame.header.type === FrameType.ACK || frame.header.type === FrameType.RESPONSE) && oneway.has(frame.header.requestId)) {
        if (frame.header.type === FrameType.RESPONSE) oneway.delete(frame.header.requestId);
        return [];
      }
      if (isDrainGoaway(frame)) for (const id of oneway) connection.toServer(encodeFrame({ type: FrameType.CANCEL, requestId: id }));
      return [frame];
    },
  },
];
