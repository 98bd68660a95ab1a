// Which services and methods a server offers: protobuf-es service
// descriptors with typed handlers, or raw byte handlers for gateways.

import { type DescMessage, type DescService, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import { decodeMessage, encodeMessage } from "../wire/index.ts";
import { allocateOutput } from "../wire/output-pool.ts";
import type { HandlerContext, QueueingContext } from "./handler-context.ts";

/** A handler's output as a response body, cut from the output pool: released once copied into its frame [FRAME-1]. */
function encodeResponse(output: DescMessage, value: unknown): Uint8Array {
  return encodeMessage(output, value, allocateOutput);
}

/** A typed unary handler: the decoded request in, the response message (or its init shape) out [CALL-3]. */
export type UnaryHandler<I extends DescMessage, O extends DescMessage> = (
  request: MessageShape<I>,
  context: HandlerContext,
) => MessageInitShape<O> | Promise<MessageInitShape<O>>;

/** Handlers for the methods of a generated service, by their local (camelCase) names. */
export type ServiceImpl<S extends GenServiceMethods> = {
  [K in keyof S]?: UnaryHandler<S[K]["input"], S[K]["output"]>;
};

/**
 * A handler of raw bodies: the request body in, the response body out, for
 * gateways and generic use [CALL-2]. The server may send the returned bytes
 * without copying them: do not change them afterwards.
 */
export type RawHandler = (body: Uint8Array, context: HandlerContext) => Uint8Array | Promise<Uint8Array>;

/** One method as the dispatcher sees it: bytes in, bytes out. */
export interface RegisteredMethod {
  /** "service/method", as the server's stats name it. */
  readonly name: string;
  /** Decodes the body; throws when it is not the method's input [STATUS-4]. */
  decode(body: Uint8Array): unknown;
  /** Runs the handler on the decoded input and encodes its output; synchronously when the handler is synchronous. */
  invoke(input: unknown, context: QueueingContext): Uint8Array | Promise<Uint8Array>;
  /** Runs the handler alone: its output before encoding, for interceptors to see. */
  handle(input: unknown, context: QueueingContext): unknown;
  /** Encodes an output of `handle`; throws when it is not the method's output. */
  encode(output: unknown): Uint8Array;
  /** Set when the handler queues calls and says when each starts, through `context.begin()` [DEADLINE-3]. */
  readonly queues?: true;
}

/** The services of a server, by fully-qualified service name and method name [CALL-2]. */
export class ServiceRegistry {
  private readonly services = new Map<string, Map<string, RegisteredMethod>>();
  /** The schema of each service added with one; raw services have none [EXT-11]. */
  private readonly schemas = new Map<string, DescService>();

  /** Adds a generated service with its handlers; methods without a handler answer UNKNOWN_METHOD. */
  addService<S extends GenServiceMethods>(service: GenService<S>, impl: ServiceImpl<S>): this {
    this.checkName(service.typeName);
    return this.addBuiltinService(service, impl);
  }

  /** Adds a service without the reserved-name check: for the built-in services of the spec [EXT-5]. */
  addBuiltinService<S extends GenServiceMethods>(service: GenService<S>, impl: ServiceImpl<S>): this {
    const methods = this.open(service.typeName, service);
    const implementations = impl as Record<string, UnaryHandler<DescMessage, DescMessage> | undefined>;
    for (const name of Object.keys(implementations)) {
      if (!(service as DescService).methods.some((m) => m.localName === name)) {
        throw new TypeError(`${service.typeName} has no method "${name}"`);
      }
    }
    for (const method of (service as DescService).methods) {
      const handler = implementations[method.localName];
      if (handler === undefined) continue;
      if (typeof handler !== "function") throw new TypeError(`the handler of ${service.typeName}.${method.name} (${method.localName}) must be a function, not ${handler === null ? "null" : typeof handler}`);
      if (method.methodKind !== "unary") {
        throw new TypeError(`${service.typeName}.${method.name} is ${method.methodKind}; Strata v1 has unary methods only`);
      }
      const input = method.input;
      const output = method.output;
      methods.set(method.name, {
        name: `${service.typeName}/${method.name}`,
        decode: (body) => decodeMessage(input, body),
        invoke: (request, context) => {
          const result = handler(request as MessageShape<DescMessage>, context);
          if (isPromiseLike(result)) return Promise.resolve(result).then((value) => encodeResponse(output, value));
          return encodeResponse(output, result);
        },
        handle: (request, context) => handler(request as MessageShape<DescMessage>, context),
        encode: (value) => encodeResponse(output, value),
      });
    }
    return this;
  }

  /**
   * Adds a service whose handlers run elsewhere (a worker pool): requests are
   * decoded here, so a body that is not the input is refused before anything
   * runs [STATUS-4]; `run` gets the decoded input and returns the output,
   * and calls `context.begin()` when the call leaves its queue [DEADLINE-3].
   * Only the `implemented` methods (by name) are added; others answer UNKNOWN_METHOD.
   */
  addDelegatedService<S extends GenServiceMethods>(
    service: GenService<S>,
    implemented: readonly string[],
    run: (method: string, input: unknown, context: QueueingContext) => Promise<unknown>,
  ): this {
    this.checkName(service.typeName);
    const methods = this.open(service.typeName, service);
    for (const method of (service as DescService).methods) {
      if (method.methodKind !== "unary" || !implemented.includes(method.name)) continue;
      const output = method.output;
      methods.set(method.name, {
        name: `${service.typeName}/${method.name}`,
        decode: (body) => decodeMessage(method.input, body),
        invoke: async (request, context) => encodeResponse(output, await run(method.name, request, context)),
        handle: (request, context) => run(method.name, request, context),
        encode: (value) => encodeResponse(output, value),
        queues: true,
      });
    }
    return this;
  }

  /** Adds raw handlers under a service name, e.g. for a gateway [CALL-2]. */
  addRawService(serviceName: string, handlers: Record<string, RawHandler>): this {
    this.checkName(serviceName);
    const methods = this.open(serviceName);
    for (const [name, handler] of Object.entries(handlers)) {
      if (typeof handler !== "function") throw new TypeError(`the raw handler ${serviceName}/${name} must be a function, not ${handler === null ? "null" : typeof handler}`);
      const check = (output: unknown): Uint8Array => {
        if (!(output instanceof Uint8Array)) throw new TypeError(`raw handler ${serviceName}/${name} returned ${typeof output}, not a Uint8Array`);
        return output;
      };
      methods.set(name, {
        name: `${serviceName}/${name}`,
        decode: (body) => body,
        invoke: (body, context) => {
          const result = handler(body as Uint8Array, context);
          return isPromiseLike(result) ? Promise.resolve(result).then(check) : check(result);
        },
        handle: (body, context) => handler(body as Uint8Array, context),
        encode: check,
      });
    }
    return this;
  }

  /** Looks a service up, or undefined [STATUS-4]. */
  service(name: string): ReadonlyMap<string, RegisteredMethod> | undefined {
    return this.services.get(name);
  }

  /** The name of every service offered, with its schema when it was added with one [EXT-11]. */
  offered(): Array<{ name: string; schema: DescService | undefined }> {
    return [...this.services.keys()].map((name) => ({ name, schema: this.schemas.get(name) }));
  }

  /** Rejects names reserved for built-in services [EXT-5]. */
  private checkName(name: string): void {
    if (name === "") throw new TypeError("a service needs a name");
    if (name.startsWith("strata.")) {
      throw new TypeError(`service names starting with "strata." are reserved for built-in services [EXT-5]: ${name}`);
    }
  }

  private open(name: string, schema?: DescService): Map<string, RegisteredMethod> {
    if (schema !== undefined) this.schemas.set(name, schema);
    let methods = this.services.get(name);
    if (methods === undefined) {
      methods = new Map();
      this.services.set(name, methods);
    }
    return methods;
  }
}

/** Whether a handler returned a promise (or any thenable) rather than its value. */
function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}
