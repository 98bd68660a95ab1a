// The inside of an isolation worker: loads the handler module named in
// workerData, then runs one call at a time as the server hands them over.
// Loaded by worker-boot.mjs on Node, Bun and Deno (node:worker_threads).

import { parentPort, workerData } from "node:worker_threads";
import type { DescService } from "@bufbuild/protobuf";
import { RpcError } from "../../status/index.ts";
import type { MetadataEntry } from "../../wire/index.ts";
import { checkedResponseMetadata, type HandlerContext } from "../handler-context.ts";
import { createContextValues } from "../../util/context-values.ts";
import { isIsolatedService } from "./isolated-service.ts";
import type { CallInfo, FromWorker, SerializedError, ToWorker } from "./worker-messages.ts";
import { now } from "../../util/clock.ts";

type Handler = (input: unknown, context: HandlerContext) => unknown;

const port = parentPort!;
const { module: moduleHref, service: serviceName } = workerData as { module: string; service: string };
const running = new Map<number, AbortController>();

function send(message: FromWorker): void {
  port.postMessage(message);
}

/** The handlers of the module's default export, by method name; throws a readable error when the module is not one. */
async function loadHandlers(): Promise<Map<string, Handler>> {
  const loaded = (await import(moduleHref)) as { default?: unknown };
  if (!isIsolatedService(loaded.default)) {
    throw new TypeError(`${moduleHref} must export default defineIsolatedService(service, handlers)`);
  }
  const { service, impl } = loaded.default;
  if (service.typeName !== serviceName) {
    throw new TypeError(`${moduleHref} defines ${service.typeName}, but the server added it as ${serviceName}`);
  }
  const handlers = new Map<string, Handler>();
  const byLocalName = impl as Record<string, Handler | undefined>;
  for (const method of (service as DescService).methods) {
    const handler = byLocalName[method.localName];
    if (handler !== undefined) handlers.set(method.name, handler);
  }
  return handlers;
}

function serialize(error: unknown): SerializedError {
  if (RpcError.is(error)) {
    return { rpc: { layer: error.layer, code: error.code, message: error.rawMessage, details: error.details }, message: error.message };
  }
  return { message: error instanceof Error ? error.message : String(error) };
}

async function call(handler: Handler, id: number, input: unknown, info: CallInfo): Promise<void> {
  const controller = new AbortController();
  running.set(id, controller);
  const started = now();
  let metadata: MetadataEntry[] = [];
  const context: HandlerContext = {
    ...info,
    signal: controller.signal,
    remainingMs: () => (info.remainingMs === undefined ? undefined : Math.max(0, info.remainingMs - (now() - started))),
    get responseMetadata() {
      return metadata;
    },
    // As on the server's own thread: plain JavaScript may replace the array, and anything else fails at once [META-1].
    set responseMetadata(entries: MetadataEntry[]) {
      metadata = checkedResponseMetadata(entries);
    },
    values: createContextValues(),
    drainConnection: (graceMs) => send({ type: "drain", id, graceMs }),
  };
  try {
    const output = await handler(input, context);
    try {
      send({ type: "result", id, output, metadata });
    } catch (error) {
      send({ type: "error", id, error: { message: `the handler's output cannot leave the worker: ${(error as Error).message}` }, metadata });
    }
  } catch (error) {
    send({ type: "error", id, error: serialize(error), metadata });
  } finally {
    running.delete(id);
  }
}

try {
  const handlers = await loadHandlers();
  port.on("message", (message: ToWorker) => {
    if (message.type === "abort") {
      const error = new DOMException(message.reason.message, message.reason.name);
      running.get(message.id)?.abort(error);
      return;
    }
    const handler = handlers.get(message.method);
    if (handler === undefined) {
      send({ type: "error", id: message.id, error: { message: `no handler for ${message.method}` }, metadata: [] });
      return;
    }
    void call(handler, message.id, message.input, message.info);
  });
  send({ type: "ready", methods: [...handlers.keys()] });
} catch (error) {
  send({ type: "load-failed", message: error instanceof Error ? error.message : String(error) });
}
