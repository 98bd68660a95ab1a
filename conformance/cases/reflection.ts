// Section 16.2: the optional reflection service. Its answers must be enough
// on their own to build a registry and call the server with it.
import { create, createFileRegistry, fromBinary, toBinary, type DescMessage, type FileRegistry } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema, type FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import { ConformanceService } from "../gen/strata/conformance/v1/conformance_pb.ts";
import {
  DescribeSymbolRequestSchema,
  DescribeSymbolResponseSchema,
  ListServicesResponseSchema,
  ReflectionErrorCode,
  ReflectionService,
  type ServiceInfo,
} from "../../src/gen/strata/reflection/v1/reflection_pb.ts";
import { ErrorDetailsSchema } from "../../src/gen/strata/v1/frame_pb.ts";
import { DispatchCode, FrameType, type Frame, type FrameHeaderInit } from "../../src/wire/index.ts";
import { CaseFailure, CaseSkip, expect } from "../runner/case-outcome.ts";
import type { ConformanceCase } from "../runner/case.ts";
import { CONFORMANCE_SERVICE } from "../runner/context.ts";
import type { Peer } from "../runner/peer.ts";

const REFLECTION = ReflectionService.typeName;
const SECTION = "16 Versioning and extensibility";

/** Sends a ReflectionService request as `id` and waits for its RESPONSE; `extra` overrides header fields. */
async function reflect(peer: Peer, id: number, method: string, body: Uint8Array, extra: Partial<FrameHeaderInit> = {}): Promise<Frame> {
  peer.send({ type: FrameType.REQUEST, requestId: id, service: REFLECTION, method, ...extra }, body);
  return peer.waitFor((f) => f.header.type === FrameType.RESPONSE && f.header.requestId === id, `a RESPONSE to ${method} (request ${id})`);
}

/** Fails unless `frame` is OK at both layers. */
function expectOk(frame: Frame, what: string, requirement: string): void {
  const { dispatchCode, dispatchMessage, appCode, appMessage } = frame.header;
  expect(dispatchCode === DispatchCode.OK && appCode === 0, `${what} to succeed`, dispatchCode !== DispatchCode.OK ? `dispatch code ${dispatchCode} "${dispatchMessage}"` : `application code ${appCode} "${appMessage}"`, requirement);
}

/** ListServices as request `id`; skips the case when the server does not offer ReflectionService [EXT-10]. */
async function listServices(peer: Peer, id: number): Promise<ServiceInfo[]> {
  const frame = await reflect(peer, id, "ListServices", new Uint8Array(0));
  if (frame.header.dispatchCode === DispatchCode.UNKNOWN_SERVICE) throw new CaseSkip(`the server does not offer ${REFLECTION} [EXT-10]`);
  expectOk(frame, "ListServices", "EXT-10");
  try {
    return fromBinary(ListServicesResponseSchema, frame.body).services;
  } catch (error) {
    throw new CaseFailure("a ListServicesResponse body", `undecodable: ${(error as Error).message}`, "EXT-11");
  }
}

/** The RESPONSE to DescribeSymbol(`symbol`) as request `id`. */
function describeFrame(peer: Peer, id: number, symbol: string, extra: Partial<FrameHeaderInit> = {}): Promise<Frame> {
  return reflect(peer, id, "DescribeSymbol", toBinary(DescribeSymbolRequestSchema, create(DescribeSymbolRequestSchema, { symbol })), extra);
}

/** DescribeSymbol(`symbol`)'s files; fails the case unless it succeeds and decodes. */
async function describe(peer: Peer, id: number, symbol: string): Promise<FileDescriptorProto[]> {
  const frame = await describeFrame(peer, id, symbol);
  expectOk(frame, `DescribeSymbol("${symbol}")`, "EXT-12");
  try {
    return fromBinary(DescribeSymbolResponseSchema, frame.body).file;
  } catch (error) {
    throw new CaseFailure(`a DescribeSymbolResponse body for "${symbol}"`, `undecodable: ${(error as Error).message}`, "EXT-12");
  }
}

/** The registry built from one answer alone, read in its order; fails the case when it cannot be built [EXT-12]. */
function registryOf(files: FileDescriptorProto[], symbol: string): FileRegistry {
  try {
    return createFileRegistry(create(FileDescriptorSetSchema, { file: files }));
  } catch (error) {
    throw new CaseFailure(`the answer for "${symbol}" to form a registry on its own`, `${(error as Error).message} (files: ${files.map((f) => f.name).join(", ")})`, "EXT-12");
  }
}

export const reflectionCases: ConformanceCase[] = [
  {
    name: "reflection/list-services-or-unknown-service",
    section: SECTION,
    requirements: ["EXT-10", "EXT-11"],
    title: "ListServices names each offered service once, ReflectionService itself among them and described, or the service is UNKNOWN_SERVICE",
    async run(ctx) {
      const peer = await ctx.connect();
      const frame = await reflect(peer, 1, "ListServices", new Uint8Array(0));
      if (frame.header.dispatchCode === DispatchCode.UNKNOWN_SERVICE) return; // not offered [EXT-10]
      expectOk(frame, "ListServices (or UNKNOWN_SERVICE)", "EXT-10");
      const services = fromBinary(ListServicesResponseSchema, frame.body).services;
      const names = services.map((s) => s.name);
      const twice = names.filter((name, i) => names.indexOf(name) !== i);
      expect(twice.length === 0, "each service named once", `named more than once: ${twice.join(", ")}`, "EXT-11");
      const own = services.find((s) => s.name === REFLECTION);
      expect(own?.described === true, `${REFLECTION} listed, described`, own === undefined ? `not listed among ${names.join(", ") || "nothing"}` : "listed, not described", "EXT-11");
    },
  },
  {
    name: "reflection/lists-conformance-service",
    section: SECTION,
    requirements: ["EXT-11"],
    title: "ListServices names the built-in conformance service the server offers in its test mode, described",
    usesConformanceService: true,
    async run(ctx) {
      const peer = await ctx.connect();
      const services = await listServices(peer, 1);
      const entry = services.find((s) => s.name === CONFORMANCE_SERVICE);
      expect(entry?.described === true, `${CONFORMANCE_SERVICE} listed, described`, entry === undefined ? `not listed among ${services.map((s) => s.name).join(", ")}` : "listed, not described", "EXT-11");
    },
  },
  {
    name: "reflection/described-exactly-when-describable",
    section: SECTION,
    requirements: ["EXT-11", "EXT-12", "EXT-13"],
    title: "DescribeSymbol answers every listed service marked described with a registry holding it, and NOT_FOUND for the others",
    async run(ctx) {
      const peer = await ctx.connect();
      const services = await listServices(peer, 1);
      let id = 2;
      for (const { name, described } of services) {
        const frame = await describeFrame(peer, id++, name);
        if (!described) {
          expect(frame.header.dispatchCode === DispatchCode.OK && frame.header.appCode === ReflectionErrorCode.NOT_FOUND, `NOT_FOUND (application code 5) for ${name}, listed as not described`, `dispatch code ${frame.header.dispatchCode}, application code ${frame.header.appCode}`, "EXT-11");
          continue;
        }
        expectOk(frame, `DescribeSymbol("${name}"), listed as described`, "EXT-11");
        const registry = registryOf(fromBinary(DescribeSymbolResponseSchema, frame.body).file, name);
        expect(registry.getService(name) !== undefined, `the answer for ${name} to declare it`, `services declared: ${[...registry].filter((t) => t.kind === "service").map((t) => t.typeName).join(", ") || "none"}`, "EXT-12");
      }
    },
  },
  {
    name: "reflection/conformance-service-schema-is-usable",
    section: SECTION,
    requirements: ["EXT-12"],
    title: "The conformance service's answer forms a registry with every method and its input and output types, and an Echo encoded and decoded with it alone round-trips",
    usesConformanceService: true,
    async run(ctx) {
      const peer = await ctx.connect();
      await listServices(peer, 1);
      const registry = registryOf(await describe(peer, 2, CONFORMANCE_SERVICE), CONFORMANCE_SERVICE);
      const service = registry.getService(CONFORMANCE_SERVICE);
      expect(service !== undefined, `the answer to declare ${CONFORMANCE_SERVICE}`, "not declared", "EXT-12");
      for (const expected of ConformanceService.methods) {
        const method = service.methods.find((m) => m.name === expected.name);
        expect(method !== undefined, `method ${expected.name}`, `methods: ${service.methods.map((m) => m.name).join(", ")}`, "EXT-12");
        for (const [role, got, want] of [["input", method.input, expected.input], ["output", method.output, expected.output]] as const) {
          expect(got.typeName === want.typeName && registry.getMessage(got.typeName) === got, `${expected.name}'s ${role} ${want.typeName}, resolved in the registry`, got.typeName, "EXT-12");
        }
      }
      // What a generic client does with the answer: a call built from the fetched schema alone.
      const echo = service.methods.find((m) => m.name === "Echo")!;
      const payload = Uint8Array.of(0x72, 0x65, 0x66, 0x6c);
      peer.send({ type: FrameType.REQUEST, requestId: 3, service: CONFORMANCE_SERVICE, method: "Echo" }, toBinary(echo.input, create(echo.input, { payload } as never)));
      const frame = await ctx.response(peer, 3);
      expectOk(frame, "Echo encoded with the fetched EchoRequest", "EXT-12");
      const echoed = (fromBinary(echo.output as DescMessage, frame.body) as unknown as { payload: Uint8Array }).payload;
      expect(echoed.join() === payload.join(), `payload ${payload.join()} back, decoded with the fetched EchoResponse`, echoed.join(), "EXT-12");
      for (const [id, symbol] of [[4, `${CONFORMANCE_SERVICE}.Echo`], [5, "strata.conformance.v1.EchoRequest"]] as const) {
        const files = await describe(peer, id, symbol);
        const declaring = files.at(-1)?.name;
        expect(declaring === service.file.proto.name, `the answer for ${symbol} to end with ${service.file.proto.name}`, `files: ${files.map((f) => f.name).join(", ")}`, "EXT-12");
      }
    },
  },
  {
    name: "reflection/answer-carries-imports-first",
    section: SECTION,
    requirements: ["EXT-12", "EXT-11"],
    title: "Describing ReflectionService answers its file and google/protobuf/descriptor.proto, which it imports: each file once, every file after its imports",
    async run(ctx) {
      const peer = await ctx.connect();
      await listServices(peer, 1);
      const files = await describe(peer, 2, REFLECTION);
      const names = files.map((f) => f.name);
      expect(new Set(names).size === names.length, "each file once", names.join(", "), "EXT-12");
      for (const [i, file] of files.entries()) {
        for (const dependency of file.dependency) {
          const at = names.indexOf(dependency);
          expect(at >= 0, `${dependency}, imported by ${file.name}, in the answer`, `files: ${names.join(", ")}`, "EXT-12");
          expect(at < i, `${dependency} before ${file.name}, which imports it`, `files in order: ${names.join(", ")}`, "EXT-12");
        }
      }
      expect(names.includes("google/protobuf/descriptor.proto"), "google/protobuf/descriptor.proto, which reflection.proto imports", `files: ${names.join(", ")}`, "EXT-12");
      const registry = registryOf(files, REFLECTION);
      const field = registry.getMessage("strata.reflection.v1.DescribeSymbolResponse")?.fields.find((f) => f.number === 1);
      expect(field?.message?.typeName === "google.protobuf.FileDescriptorProto", "DescribeSymbolResponse.file to resolve to google.protobuf.FileDescriptorProto", field?.message?.typeName ?? "unresolved", "EXT-12");
    },
  },
  {
    name: "reflection/unknown-symbol-is-not-found",
    section: SECTION,
    requirements: ["EXT-13"],
    title: "DescribeSymbol for a made-up name, an empty one, a package, a missing method or a leading dot: OK with application code 5, never a dispatch code",
    async run(ctx) {
      const peer = await ctx.connect();
      await listServices(peer, 1);
      const tag = ctx.uniqueTag("nope");
      const symbols = [`made.up.${tag.replace("-", "")}.Service`, "", "strata.reflection.v1", `${REFLECTION}.NoSuchMethod`, `.${REFLECTION}`];
      for (const [i, symbol] of symbols.entries()) {
        const frame = await describeFrame(peer, 2 + i, symbol);
        const { dispatchCode, appCode } = frame.header;
        expect(dispatchCode === DispatchCode.OK, `dispatch code OK for "${symbol}" (the handler ran; only its answer is negative)`, `dispatch code ${dispatchCode} "${frame.header.dispatchMessage}"`, "EXT-13");
        expect(appCode === ReflectionErrorCode.NOT_FOUND, `application code 5 (NOT_FOUND) for "${symbol}"`, `application code ${appCode}`, "EXT-13");
        if (frame.body.length > 0) {
          try {
            fromBinary(ErrorDetailsSchema, frame.body);
          } catch {
            throw new CaseFailure(`an empty body or ErrorDetails for "${symbol}"`, `${frame.body.length} bytes that are not ErrorDetails`, "EXT-13");
          }
        }
      }
    },
  },
  {
    name: "reflection/admitted-like-any-call",
    section: SECTION,
    requirements: ["EXT-14"],
    title: "ReflectionService requests pass the admission checks: an expired deadline is DEADLINE_EXPIRED, a missing method UNKNOWN_METHOD, a broken body INVALID_ARGUMENT",
    async run(ctx) {
      const peer = await ctx.connect();
      await listServices(peer, 1);
      const expired = await describeFrame(peer, 2, REFLECTION, { timeoutMs: 0 });
      expect(expired.header.dispatchCode === DispatchCode.DEADLINE_EXPIRED, "DEADLINE_EXPIRED for DescribeSymbol sent with timeout_ms 0", `dispatch code ${expired.header.dispatchCode}`, "EXT-14");
      const missing = await reflect(peer, 3, "NoSuchMethod", new Uint8Array(0));
      expect(missing.header.dispatchCode === DispatchCode.UNKNOWN_METHOD, "UNKNOWN_METHOD for ReflectionService/NoSuchMethod", `dispatch code ${missing.header.dispatchCode}`, "EXT-14");
      // Field 1 (symbol) says 5 bytes follow; only 1 does.
      const broken = await reflect(peer, 4, "DescribeSymbol", Uint8Array.of(0x0a, 0x05, 0x61));
      expect(broken.header.dispatchCode === DispatchCode.INVALID_ARGUMENT, "INVALID_ARGUMENT for a DescribeSymbol body that does not decode", `dispatch code ${broken.header.dispatchCode}`, "EXT-14");
    },
  },
];
