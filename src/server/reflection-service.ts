// The built-in strata.reflection.v1.ReflectionService: the services a server
// offers and their schemas, from the descriptors they were added with
// [EXT-10] [EXT-11] [EXT-12] [EXT-13].

import type { DescFile, DescMessage } from "@bufbuild/protobuf";
import { ReflectionErrorCode, ReflectionService } from "../gen/strata/reflection/v1/reflection_pb.ts";
import { RpcError } from "../status/index.ts";
import type { ServiceRegistry } from "./service-registry.ts";

/** How much of an unknown symbol the NOT_FOUND message repeats, in characters. */
const ECHOED_SYMBOL = 200;

/**
 * Registers ReflectionService, answering from the schemas of the services in
 * `registry` at the time of each call; a service added without a schema
 * (addRawService) is listed by name only [EXT-11] [EXT-12].
 */
export function addReflectionService(registry: ServiceRegistry): void {
  registry.addBuiltinService(ReflectionService, {
    listServices: () => ({
      services: registry.offered().map(({ name, schema }) => ({ name, described: schema !== undefined })),
    }),
    describeSymbol: ({ symbol }) => {
      const roots = registry.offered().flatMap(({ schema }) => (schema === undefined ? [] : [schema.file]));
      const file = declaringFile(withImports(roots), symbol);
      if (file === undefined) {
        const shown = [...symbol].slice(0, ECHOED_SYMBOL).join("");
        throw RpcError.application(ReflectionErrorCode.NOT_FOUND, `no descriptor declares "${shown}"`);
      }
      return { file: withImports([file]).map((f) => f.proto) };
    },
  });
}

/** `files` and every file they import, directly or not: each once, every file after its imports [EXT-12]. */
function withImports(files: readonly DescFile[]): DescFile[] {
  const ordered: DescFile[] = [];
  const seen = new Set<DescFile>();
  const visit = (file: DescFile) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const dependency of file.dependencies) visit(dependency);
    ordered.push(file);
  };
  for (const file of files) visit(file);
  return ordered;
}

/** The file of `files` declaring the service, method, message or enum named `symbol`, or undefined [EXT-12]. */
function declaringFile(files: readonly DescFile[], symbol: string): DescFile | undefined {
  for (const file of files) {
    for (const service of file.services) {
      if (service.typeName === symbol || service.methods.some((m) => `${service.typeName}.${m.name}` === symbol)) return file;
    }
    if (file.enums.some((e) => e.typeName === symbol) || file.messages.some((m) => declares(m, symbol))) return file;
  }
  return undefined;
}

/** Whether `message` is `symbol`, or declares it as a nested message or enum. */
function declares(message: DescMessage, symbol: string): boolean {
  if (message.typeName === symbol) return true;
  if (!symbol.startsWith(`${message.typeName}.`)) return false;
  return message.nestedEnums.some((e) => e.typeName === symbol) || message.nestedMessages.some((m) => declares(m, symbol));
}
