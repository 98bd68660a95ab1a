// `strata list ADDRESS` and `strata describe ADDRESS SYMBOL`: what a server
// offers, from its reflection service [EXT-11] [EXT-12] or local schemas.
import type { DescEnum, DescMessage, DescMethod, DescService, FileRegistry } from "@bufbuild/protobuf";
import { ScalarType } from "@bufbuild/protobuf";

/**
 * The services one per line — those the server offers when `offered` holds
 * its ListServices answer, else every service in `registry` — and with
 * `long` each method with its input and output [EXT-11].
 */
export function formatServiceList(registry: FileRegistry, long: boolean, offered?: readonly string[]): string {
  const names = offered ?? [...registry].filter((d): d is DescService => d.kind === "service").map((s) => s.typeName);
  return [...names]
    .sort((a, b) => a.localeCompare(b))
    .map((name) => {
      const service = registry.getService(name);
      if (service === undefined) return `${name} (offered without a schema)`;
      if (!long) return name;
      return [name, ...service.methods.map((m) => `  ${m.name}(${m.input.typeName}) returns (${m.output.typeName})`)].join("\n");
    })
    .join("\n");
}

function scalarName(scalar: ScalarType): string {
  return ScalarType[scalar]!.toLowerCase();
}

function describeMessage(message: DescMessage): string {
  const lines = [`message ${message.typeName} {`];
  for (const field of message.fields) {
    let type: string;
    switch (field.fieldKind) {
      case "scalar":
        type = scalarName(field.scalar);
        break;
      case "enum":
        type = field.enum.typeName;
        break;
      case "message":
        type = field.message.typeName;
        break;
      case "list":
        type = `repeated ${field.listKind === "scalar" ? scalarName(field.scalar) : field.listKind === "enum" ? field.enum.typeName : field.message.typeName}`;
        break;
      case "map":
        type = `map<${scalarName(field.mapKey)}, ${field.mapKind === "scalar" ? scalarName(field.scalar) : field.mapKind === "enum" ? field.enum.typeName : field.message.typeName}>`;
        break;
    }
    lines.push(`  ${type} ${field.name} = ${field.number};`);
  }
  lines.push("}");
  return lines.join("\n");
}

function describeEnum(enumeration: DescEnum): string {
  return [`enum ${enumeration.typeName} {`, ...enumeration.values.map((v) => `  ${v.name} = ${v.number};`), "}"].join("\n");
}

function describeMethod(method: DescMethod): string {
  return `rpc ${method.parent.typeName}.${method.name}(${method.input.typeName}) returns (${method.output.typeName});`;
}

function describeService(service: DescService): string {
  return [`service ${service.typeName} {`, ...service.methods.map((m) => `  rpc ${m.name}(${m.input.typeName}) returns (${m.output.typeName});`), "}"].join("\n");
}

/** A service, method ("pkg.Service.Method" or "pkg.Service/Method"), message or enum in protobuf-like text [EXT-12]. */
export function describeSymbol(registry: FileRegistry, symbol: string): string {
  const name = symbol.replace("/", ".").replace(/^\./, "");
  const found = registry.get(name);
  if (found !== undefined) {
    switch (found.kind) {
      case "service":
        return describeService(found);
      case "message":
        return describeMessage(found);
      case "enum":
        return describeEnum(found);
      default:
        return `${found.kind} ${name}`;
    }
  }
  const dot = name.lastIndexOf(".");
  const service = dot > 0 ? registry.getService(name.slice(0, dot)) : undefined;
  const method = service?.methods.find((m) => m.name === name.slice(dot + 1));
  if (method !== undefined) return [describeMethod(method), describeMessage(method.input), describeMessage(method.output)].join("\n");
  throw new Error(`no symbol ${symbol} in the schemas`);
}
