// A server's schemas as a protobuf-es registry, read through its built-in
// ReflectionService: what a generic client (a CLI) needs to call services it
// has no .proto files for [EXT-11] [EXT-12].

import { create, createFileRegistry, type FileRegistry } from "@bufbuild/protobuf";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import { FileDescriptorSetSchema, type FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import type { ReflectionService } from "../gen/strata/reflection/v1/reflection_pb.ts";
import type { CallOptions, Client } from "./client.ts";

type MethodsOf<T> = T extends GenService<infer S extends GenServiceMethods> ? S : never;

/** What fetchServiceRegistry calls: a client of strata.reflection.v1.ReflectionService from createClient [EXT-10]. */
export type ReflectionClient = Pick<Client<MethodsOf<typeof ReflectionService>>, "listServices" | "describeSymbol">;

/**
 * Lists the server's services and describes each described one, then builds
 * one registry from the answers, in which every described service, its
 * methods and their input and output types resolve; services the server
 * offers without a schema are not in it [EXT-11] [EXT-12]. Rejects with the
 * RpcError of the first call that fails, e.g. UNKNOWN_SERVICE from a server
 * that does not offer reflection [EXT-10].
 */
export async function fetchServiceRegistry(client: ReflectionClient, options?: CallOptions): Promise<FileRegistry> {
  const { services } = await client.listServices({}, options);
  // Files by name, in the order they came: each answer lists a file's imports before it [EXT-12].
  const files = new Map<string, FileDescriptorProto>();
  for (const { name, described } of services) {
    if (!described || [...files.values()].some((file) => declaresService(file, name))) continue;
    const answer = await client.describeSymbol({ symbol: name }, options);
    for (const file of answer.file) if (!files.has(file.name)) files.set(file.name, file);
  }
  return createFileRegistry(create(FileDescriptorSetSchema, { file: [...files.values()] }));
}

/** Whether `file` declares the service named `name` (fully qualified). */
function declaresService(file: FileDescriptorProto, name: string): boolean {
  return file.service.some((service) => (file.package === "" ? service.name : `${file.package}.${service.name}`) === name);
}
