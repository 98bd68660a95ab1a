// The schema flags `call`, `list`, `describe` and `bench` share: local
// schemas through buf, or the server's reflection service [EXT-10].
import type { FileRegistry } from "@bufbuild/protobuf";
import { createClient, fetchServiceRegistry, RpcError } from "../node.ts";
import { ReflectionService } from "../gen/strata/reflection/v1/reflection_pb.ts";
import type { ConnectionFlags } from "./connection-flags.ts";
import { registryFromProto } from "./schemas.ts";
import { CommandFailure } from "./command-failure.ts";
import { exitCodeFor } from "./exit-codes.ts";

/** --schema, --proto and --import-path as commander parsed them. */
export interface SchemaFlags {
  schema: string[];
  proto: string[];
  importPath: string[];
}

/** The schemas to use: local ones when any flag names them, else the server's own via reflection [EXT-10] [EXT-11] [EXT-12]. */
export async function loadSchemas(flags: SchemaFlags, connection: ConnectionFlags): Promise<FileRegistry> {
  return (await loadSchemasAndServices(flags, connection)).registry;
}

/** loadSchemas, and with reflection the names of the services the server offers (ListServices) [EXT-11]. */
export async function loadSchemasAndServices(flags: SchemaFlags, connection: ConnectionFlags): Promise<{ registry: FileRegistry; offered?: string[] }> {
  if (flags.schema.length > 0 || flags.proto.length > 0) return { registry: registryFromProto(flags.schema, flags.proto, flags.importPath) };
  const client = createClient(ReflectionService, connection.clientOptions());
  try {
    connection.log("asking the server for its schemas (strata.reflection.v1.ReflectionService)");
    const options = { timeoutMs: connection.timeoutMs };
    const registry = await fetchServiceRegistry(client, options);
    const { services } = await client.listServices({}, options);
    return { registry, offered: services.map((s) => s.name) };
  } catch (error) {
    if (RpcError.is(error) && error.layer === "dispatch" && error.code === "UNKNOWN_SERVICE") {
      throw new Error(`the server at ${connection.address} does not offer reflection (strata.reflection.v1.ReflectionService): give its schemas with --schema DIR or --proto FILE`);
    }
    if (RpcError.is(error)) throw new CommandFailure(`could not read the schemas from ${connection.address}: ${error.message} (processed: ${error.processed})`, exitCodeFor(error));
    throw error;
  } finally {
    await client.$close();
  }
}
