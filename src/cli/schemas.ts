// Where `strata call`, `list` and `describe` learn a server's schemas: from
// local .proto files, compiled by buf as `buf curl --schema` does, or else
// from the server's reflection service.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { createFileRegistry, fromBinary, type DescMethod, type DescService, type FileRegistry } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";

/** The buf executable: `buf` on PATH, else the @bufbuild/buf package installed where the command runs. */
function bufExecutable(): string {
  const onPath = spawnSync("buf", ["--version"], { stdio: "ignore" });
  if (onPath.error === undefined && onPath.status === 0) return "buf";
  try {
    const manifest = createRequire(join(process.cwd(), "noop.js")).resolve("@bufbuild/buf/package.json");
    return join(dirname(manifest), "bin", "buf");
  } catch {
    throw new Error("reading .proto files needs buf: `npm install --save-dev @bufbuild/buf`, or put buf on PATH; or drop --schema/--proto to ask the server (reflection)");
  }
}

/**
 * Compiles `inputs` with buf into one registry: each is what `buf build`
 * takes (a directory of .proto files, a buf module, an image file) or a
 * .proto file, found under `importPaths` like protoc's -I.
 */
export function registryFromProto(schemas: readonly string[], protoFiles: readonly string[], importPaths: readonly string[]): FileRegistry {
  const buf = bufExecutable();
  const builds: string[][] = schemas.map((input) => [input]);
  if (protoFiles.length > 0) {
    const roots = importPaths.length > 0 ? importPaths : ["."];
    if (roots.length > 1) throw new Error("--import-path takes one directory (a buf workspace can combine more: pass it with --schema)");
    builds.push([roots[0]!, ...protoFiles.flatMap((file) => ["--path", join(roots[0]!, file)])]);
  }
  const files = builds.flatMap((args) => {
    const built = spawnSync(buf, ["build", ...args, "-o", "-#format=binpb"], { maxBuffer: 256 * 1024 * 1024 });
    if (built.error !== undefined) throw new Error(`buf build ${args.join(" ")}: ${built.error.message}`);
    if (built.status !== 0) throw new Error(`buf build ${args.join(" ")} failed:\n${built.stderr.toString().trim()}`);
    return fromBinary(FileDescriptorSetSchema, built.stdout).file;
  });
  // The same file built twice (a shared import) appears once.
  const unique = [...new Map(files.map((file) => [file.name, file])).values()];
  return createFileRegistry({ $typeName: "google.protobuf.FileDescriptorSet", file: unique } as never);
}

/** A method named as grpcurl and buf curl name it: "pkg.Service/Method" (or "pkg.Service.Method"). */
export function findMethod(registry: FileRegistry, name: string): { service: DescService; method: DescMethod } {
  const slash = name.lastIndexOf("/");
  const dot = name.lastIndexOf(".");
  const cut = slash >= 0 ? slash : dot;
  if (cut <= 0 || cut === name.length - 1) throw new Error(`name the method as package.Service/Method, got "${name}"`);
  const serviceName = name.slice(0, cut);
  const methodName = name.slice(cut + 1);
  const service = registry.getService(serviceName);
  if (service === undefined) {
    const known = [...registry].filter((d) => d.kind === "service").map((d) => d.typeName);
    throw new Error(`no service ${serviceName} in the schemas (${known.length > 0 ? `known: ${known.join(", ")}` : "none known"})`);
  }
  const method = service.methods.find((m) => m.name === methodName || m.localName === methodName);
  if (method === undefined) throw new Error(`${serviceName} has no method ${methodName} (it has ${service.methods.map((m) => m.name).join(", ")})`);
  return { service, method };
}
