// Mutants of the reflection service (section 16.2): each changes one thing
// about its answers, the way an implementation built by hand could.
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import type { FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import { DescribeSymbolResponseSchema, ListServicesResponseSchema, ReflectionErrorCode, ReflectionService } from "../../src/gen/strata/reflection/v1/reflection_pb.ts";
import { DispatchCode, FrameType, type Frame } from "../../src/wire/index.ts";
import type { Mutant, ProxiedConnection } from "./mutating-proxy.ts";
import { answersNoted, noteCalls } from "./noted-calls.ts";

const REFLECTION = ReflectionService.typeName;

/** Hooks that rewrite the files of every successful DescribeSymbol answer with `change`. */
function rewritingFiles(change: (files: FileDescriptorProto[]) => FileDescriptorProto[]): Pick<Mutant, "clientFrame" | "serverFrame"> {
  return {
    clientFrame: (frame, connection) => noteCalls(frame, connection, REFLECTION, "DescribeSymbol"),
    serverFrame(frame: Frame, connection: ProxiedConnection) {
      if (!answersNoted(frame, connection) || frame.header.appCode !== 0) return [frame];
      const answer = fromBinary(DescribeSymbolResponseSchema, frame.body);
      answer.file = change(answer.file);
      return [{ header: frame.header, body: toBinary(DescribeSymbolResponseSchema, answer) }];
    },
  };
}

export const reflectionMutants: Mutant[] = [
  {
    name: "reflection-omits-imports",
    description: "DescribeSymbol answers only the file declaring the symbol, not the files it imports [EXT-12]",
    caughtBy: ["reflection/answer-carries-imports-first", "reflection/described-exactly-when-describable"],
    ...rewritingFiles((files) => files.slice(-1)),
  },
  {
    name: "reflection-imports-last",
    description: "DescribeSymbol answers the declaring file first and its imports after it [EXT-12]",
    caughtBy: ["reflection/answer-carries-imports-first", "reflection/described-exactly-when-describable"],
    ...rewritingFiles((files) => [...files].reverse()),
  },
  {
    name: "reflection-stale-schema",
    description: "describes the conformance service from an older schema, without its last method [EXT-12]",
    caughtBy: ["reflection/conformance-service-schema-is-usable"],
    ...rewritingFiles((files) => {
      for (const file of files) for (const service of file.service) if (`${file.package}.${service.name}` === "strata.conformance.v1.ConformanceService") service.method.pop();
      return files;
    }),
  },
  {
    name: "reflection-not-found-as-unknown-service",
    description: "answers DescribeSymbol for an unknown symbol with the dispatch code UNKNOWN_SERVICE instead of application code 5 [EXT-13]",
    caughtBy: ["reflection/unknown-symbol-is-not-found"],
    clientFrame: (frame, connection) => noteCalls(frame, connection, REFLECTION, "DescribeSymbol"),
    serverFrame(frame, connection) {
      if (!answersNoted(frame, connection) || frame.header.appCode !== ReflectionErrorCode.NOT_FOUND) return [frame];
      return [{ header: { ...frame.header, appCode: 0, appMessage: "", dispatchCode: DispatchCode.UNKNOWN_SERVICE, dispatchMessage: "no such symbol" }, body: new Uint8Array(0) }];
    },
  },
  {
    name: "reflection-hides-builtins",
    description: "ListServices leaves out the built-in strata. services, itself and the conformance service included [EXT-11]",
    caughtBy: ["reflection/list-services-or-unknown-service", "reflection/lists-conformance-service"],
    clientFrame: (frame, connection) => noteCalls(frame, connection, REFLECTION, "ListServices"),
    serverFrame(frame, connection) {
      if (!answersNoted(frame, connection)) return [frame];
      const answer = fromBinary(ListServicesResponseSchema, frame.body);
      answer.services = answer.services.filter((s) => !s.name.startsWith("strata."));
      return [{ header: frame.header, body: toBinary(ListServicesResponseSchema, answer) }];
    },
  },
  {
    name: "reflection-ahead-of-admission",
    description: "answers ReflectionService requests before the admission checks, so one whose deadline has passed still runs [EXT-14]",
    caughtBy: ["reflection/admitted-like-any-call"],
    clientFrame(frame) {
      if (frame.header.type !== FrameType.REQUEST || frame.header.service !== REFLECTION || frame.header.timeoutMs === undefined) return [frame];
      return [{ header: { ...frame.header, timeoutMs: undefined }, body: frame.body }];
    },
  },
];
