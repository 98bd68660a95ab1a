// How the CLI prints a failed call: layer, code, message, whether the server
// ran it, and the error's details decoded where the schemas know their type.
import { fromBinary, toJsonString, type Registry } from "@bufbuild/protobuf";
import type { RpcError } from "../index.ts";

/** Lines describing `error` for a person: "[dispatch UNKNOWN_METHOD] … (processed: no)" and its details [STATUS-1] [STATUS-3]. */
export function describeError(error: RpcError, registry: Registry): string {
  const lines = [`error: ${error.message} (processed: ${error.processed})`];
  for (const detail of error.details) {
    const schema = registry.getMessage(detail.type);
    if (schema === undefined) {
      lines.push(`  detail ${detail.type}: ${detail.value.length} bytes (type not in the schemas)`);
      continue;
    }
    try {
      lines.push(`  detail ${detail.type}: ${toJsonString(schema, fromBinary(schema, detail.value), { registry })}`);
    } catch (decodeError) {
      lines.push(`  detail ${detail.type}: undecodable (${(decodeError as Error).message})`);
    }
  }
  return lines.join("\n");
}
