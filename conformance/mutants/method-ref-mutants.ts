// Mutants for section 7.7: proxies in front of the reference server that
// forget method references in five ways (all of them, those of requests
// refused before the lookup, those of requests with keys or a gzip body,
// every binding after the first of a reference, the connection a binding
// belongs to), and one that lets a request by reference skip the checks.
import { CallMode, Compression, FrameType, type Frame } from "../../src/wire/index.ts";
import type { Mutant } from "./mutating-proxy.ts";

const isRequest = (frame: Frame) => frame.header.type === FrameType.REQUEST;
const binds = (frame: Frame) => isRequest(frame) && frame.header.methodRef !== 0 && frame.header.service !== "" && frame.header.method !== "";
const usesAlone = (frame: Frame) => isRequest(frame) && frame.header.methodRef !== 0 && frame.header.service === "" && frame.header.method === "";
/** The request with its method_ref taken out: what a server that never saw the reference reads. */
const withoutRef = (frame: Frame): Frame => ({ header: { ...frame.header, methodRef: 0 }, body: frame.body });
/** Refused by a check before the method lookup (section 7.5): call mode, metadata keys, deadline. */
const refusedEarly = (frame: Frame) => {
  const { callMode, timeoutMs, metadata } = frame.header;
  const knownMode = callMode === CallMode.UNARY || callMode === CallMode.ONEWAY || callMode === CallMode.ACKED;
  return !knownMode || timeoutMs === 0 || metadata.some((e) => !/^[a-z0-9._-]{1,128}$/.test(e.key));
};

/** Bindings seen on any connection, for the mutant that shares them (reference -> names). */
const sharedBindings = new Map<number, { service: string; method: string }>();

export const methodRefMutants: Mutant[] = [
  {
    name: "method-refs-ignored",
    description: "lists method-refs but ignores method_ref: a reference alone names no method [REF-1] [REF-3]",
    caughtBy: ["method-refs/bind-then-use", "method-refs/bound-whatever-the-request-becomes", "method-refs/unoffered-and-rebound"],
    clientFrame: (frame) => [isRequest(frame) && frame.header.methodRef !== 0 ? withoutRef(frame) : frame],
  },
  {
    name: "method-refs-bound-on-admission",
    description: "binds a reference only if its request passes the admission checks before the method lookup [REF-2]",
    caughtBy: ["method-refs/bound-whatever-the-request-becomes"],
    clientFrame: (frame) => [binds(frame) && refusedEarly(frame) ? withoutRef(frame) : frame],
  },
  {
    name: "method-refs-ignored-with-keys-or-gzip",
    description: "binds no reference by a request that carries keys or a gzip body, as a server that handles those on a path of their own [REF-2]",
    caughtBy: ["method-refs/bound-whatever-the-request-becomes"],
    clientFrame: (frame) => [binds(frame) && (frame.header.keys.length > 0 || frame.header.compression === Compression.GZIP) ? withoutRef(frame) : frame],
  },
  {
    name: "method-refs-checks-skipped-by-reference",
    description: "runs a request by reference alone without its deadline, metadata and call mode checks, as if they came with the binding [REF-3]",
    caughtBy: ["method-refs/checks-apply-by-reference"],
    clientFrame: (frame) => {
      if (!usesAlone(frame)) return [frame];
      return [{ header: { ...frame.header, timeoutMs: undefined, metadata: [], callMode: CallMode.UNARY }, body: frame.body }];
    },
  },
  {
    name: "method-refs-first-binding-sticks",
    description: "keeps the first binding of a reference and ignores later ones [REF-2]",
    caughtBy: ["method-refs/unoffered-and-rebound"],
    clientFrame(frame, connection) {
      if (!binds(frame)) return [frame];
      const bound = (connection.state["boundRefs"] ??= new Set<number>()) as Set<number>;
      if (bound.has(frame.header.methodRef)) return [withoutRef(frame)];
      bound.add(frame.header.methodRef);
      return [frame];
    },
  },
  {
    name: "method-refs-shared-by-connections",
    description: "keeps one table of bindings for all connections: a reference bound on one is bound on every other [REF-2]",
    caughtBy: ["method-refs/per-connection"],
    clientFrame(frame, connection) {
      const own = (connection.state["ownRefs"] ??= new Set<number>()) as Set<number>;
      if (binds(frame)) {
        own.add(frame.header.methodRef);
        sharedBindings.set(frame.header.methodRef, { service: frame.header.service, method: frame.header.method });
        return [frame];
      }
      const shared = usesAlone(frame) && !own.has(frame.header.methodRef) ? sharedBindings.get(frame.header.methodRef) : undefined;
      return [shared === undefined ? frame : { header: { ...frame.header, ...shared, methodRef: 0 }, body: frame.body }];
    },
  },
];
