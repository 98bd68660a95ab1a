// `strata call ADDRESS pkg.Service/Method -d '{json}'`: one call, its answer
// as JSON on stdout, a failure on stderr with an exit code that says its
// layer and code (exit-codes.ts).
import { fromJson, toJsonString, type DescMethod, type DescService, type FileRegistry, type Registry } from "@bufbuild/protobuf";
import type { GenService } from "@bufbuild/protobuf/codegenv2";
import { createClient, RpcError, type CallOptions, type Client } from "../node.ts";
import { parseHeaders, parseRequestJson, readRequestText } from "./request-data.ts";
import { exitCodeFor } from "./exit-codes.ts";
import { findMethod } from "./schemas.ts";
import { describeError } from "./error-output.ts";
import type { ConnectionFlags } from "./connection-flags.ts";

/** The flags of `strata call`. */
export interface CallFlags extends ConnectionFlags {
  data: string;
  header: string[];
  keys: string[];
  oneway?: boolean;
  acked?: boolean;
}

/** A client for a service known only by its descriptor, as the CLI has it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type DynamicClient = Client<any>;

/** A client of `service` at the flags' address (with -v, logging every frame) [CALL-1]. */
export function dynamicClient(service: DescService, flags: ConnectionFlags): DynamicClient {
  return createClient(service as unknown as GenService<never>, flags.clientOptions());
}

/** The request message `flags.data` describes, or an error naming what is wrong with it. */
export function requestFor(method: DescMethod, data: string, registry: Registry) {
  const origin = data.startsWith("@") ? data.slice(1) === "-" ? "standard input" : data.slice(1) : "-d";
  const json = parseRequestJson(readRequestText(data), origin);
  try {
    return fromJson(method.input, json as never, { registry });
  } catch (error) {
    throw new Error(`${origin} is not a ${method.input.typeName}: ${(error as Error).message}`);
  }
}

/** The options of one call from the flags: deadline, metadata, keys [DEADLINE-1] [META-1] [KEYS-1]. */
export function callOptions(flags: CallFlags): CallOptions {
  const options: CallOptions = { timeoutMs: flags.timeoutMs };
  if (flags.header.length > 0) options.metadata = parseHeaders(flags.header);
  const keys = flags.keys.flatMap((k) => k.split(",")).filter((k) => k !== "");
  if (keys.length > 0) options.keys = keys;
  return options;
}

/** Runs the call; returns the process's exit code [CALL-1] [CALL-4] [CALL-6]. */
export async function runCall(methodName: string, flags: CallFlags, registry: FileRegistry): Promise<number> {
  if (flags.oneway && flags.acked) throw new Error("--oneway and --acked are two call modes; pick one");
  const { service, method } = findMethod(registry, methodName);
  const request = requestFor(method, flags.data, registry);
  const options = callOptions(flags);
  const client = dynamicClient(service, flags);
  const started = performance.now();
  try {
    const local = method.localName;
    let response: unknown;
    if (flags.oneway) {
      await client.$oneway[local]!(request, options);
      flags.log(`oneway: written in ${(performance.now() - started).toFixed(1)} ms; the server answers nothing`);
      return 0;
    }
    if (flags.acked) {
      const acked = await client.$acked[local]!(request, options);
      flags.log(`acked after ${(performance.now() - started).toFixed(1)} ms`);
      response = await acked.result;
    } else {
      response = await client[local]!(request, options);
    }
    flags.log(`answered in ${(performance.now() - started).toFixed(1)} ms`);
    process.stdout.write(`${toJsonString(method.output, response as never, { registry, prettySpaces: 2 })}\n`);
    return 0;
  } catch (error) {
    if (!RpcError.is(error)) throw error;
    process.stderr.write(`${describeError(error, registry)}\n`);
    flags.log(`failed after ${(performance.now() - started).toFixed(1)} ms`);
    return exitCodeFor(error);
  } finally {
    await client.$close();
  }
}
