// Mutants for the authentication case [STATUS-13] [CONF-9]: a server that
// says it refused a call it ran, one that refuses with a code that admits
// the handler may have run, and one that accepts any token.
import { RpcError, bearerAuth, createContextKey, type ServerInterceptor } from "../../src/node.ts";
import { ConformanceService } from "../gen/strata/conformance/v1/conformance_pb.ts";
import { DispatchCode, FrameType } from "../../src/wire/index.ts";
import type { Mutant } from "./mutating-proxy.ts";

const CASE = "status/unauthenticated-not-run";
/** The dispatch message the run-then-refuse mutant's server answers with, which its proxy turns into UNAUTHENTICATED. */
const RAN_THEN_REFUSED = "mutant: ran, then refused";

const isAuthenticated = (service: string, method: string) => service === ConformanceService.typeName && method === "Authenticated";
const tokenOf = (metadata: readonly { key: string; value: Uint8Array }[]) => {
  const entry = metadata.find((e) => e.key === "authorization");
  return entry === undefined ? "" : new TextDecoder().decode(entry.value);
};

/** Runs Authenticated whatever the token, then fails the call when the token was not the right one. */
const runsThenRefuses: ServerInterceptor = (next) => async (request) => {
  if (!isAuthenticated(request.service, request.method)) return next(request);
  const output = await next(request);
  if (tokenOf(request.context.metadata) !== "Bearer conformance-token") throw new RpcError({ layer: "dispatch", code: "HANDLER_ERROR", message: RAN_THEN_REFUSED });
  return output;
};

export const authMutants: Mutant[] = [
  {
    name: "auth-after-running",
    description: "runs the handler of a call without a valid token, then answers UNAUTHENTICATED [STATUS-13]",
    caughtBy: [CASE],
    serverOptions: () => ({ interceptors: [runsThenRefuses] }),
    serverFrame(frame) {
      if (frame.header.type !== FrameType.RESPONSE || frame.header.dispatchMessage !== RAN_THEN_REFUSED) return [frame];
      return [{ header: { ...frame.header, dispatchCode: DispatchCode.UNAUTHENTICATED, dispatchMessage: "unauthenticated" }, body: frame.body }];
    },
  },
  {
    name: "auth-refusal-as-handler-error",
    description: "refuses a call without a valid token with HANDLER_ERROR, which says the handler may have run [STATUS-13] [STATUS-4]",
    caughtBy: [CASE],
    serverFrame(frame) {
      if (frame.header.type !== FrameType.RESPONSE || frame.header.dispatchCode !== DispatchCode.UNAUTHENTICATED) return [frame];
      return [{ header: { ...frame.header, dispatchCode: DispatchCode.HANDLER_ERROR }, body: frame.body }];
    },
  },
  {
    name: "auth-accepts-any-token",
    description: "accepts any bearer token as valid [STATUS-13] [CONF-9]",
    caughtBy: [CASE],
    serverOptions: () => ({
      interceptors: [
        bearerAuth({
          identity: createContextKey<string | undefined>(undefined),
          verify: () => "anyone",
          appliesTo: (request) => isAuthenticated(request.service, request.method),
        }),
      ],
    }),
  },
];
