#!/usr/bin/env node
// strata: call, list, describe, load-test and check Strata servers from the
// shell, with the flags grpcurl, buf curl and ghz users know. Arguments are
// parsed by commander; each command lives in its own file.
import type { Command as CommandType } from "commander";
import { VERSION } from "../version.ts";
import { runCall, type CallFlags } from "./call-command.ts";
import { ADDRESS_HELP, connectionFlagsOf, DEFAULT_TIMEOUT_MS } from "./connection-flags.ts";
import { collect, parseDuration } from "./flag-values.ts";
import { EXIT_USAGE } from "./exit-codes.ts";
import { CommandFailure } from "./command-failure.ts";
import { describeSymbol, formatServiceList } from "./list-command.ts";
import { loadSchemas, loadSchemasAndServices, type SchemaFlags } from "./schema-flags.ts";
import { runStats } from "./stats-command.ts";
import { addBenchCommand } from "./bench-command.ts";

const commander = await import("commander").catch(() => {
  process.stderr.write("strata: the command line needs the commander package (an optional dependency of strata-rpc): npm install commander\n");
  process.exit(EXIT_USAGE);
});
const { Command, InvalidArgumentError } = commander;

const duration = (flag: string) => (value: string) => {
  try {
    return parseDuration(value, flag);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
};

let exitCode = 0;

/** Runs a command's body: a thrown Error is printed plainly, with its CommandFailure exit code or 2 (usage). */
async function guarded(body: () => Promise<number>): Promise<void> {
  try {
    exitCode = await body();
  } catch (error) {
    process.stderr.write(`strata: ${(error as Error).message}\n`);
    exitCode = error instanceof CommandFailure ? error.exitCode : EXIT_USAGE;
  }
}

/** The flags for reaching a server that every command shares. */
function withConnectionFlags(command: CommandType): CommandType {
  return command
    .option("--timeout <duration>", `deadline of each call, e.g. 500ms, 3s, 1m (default ${DEFAULT_TIMEOUT_MS / 1000}s)`, duration("--timeout"), DEFAULT_TIMEOUT_MS)
    .option("-v, --verbose", "log every frame and the timings to stderr", false)
    .option("--ca <file>", "tls: or wss:, the CA certificates (PEM) the server's certificate verifies against (default: public CAs)")
    .option("--cert <file>", "tls: or wss:, a client certificate (PEM) for a server that asks for one")
    .option("--key <file>", "tls: or wss:, the private key of --cert (PEM)")
    .option("--server-name <name>", "tls: or wss:, the name the server's certificate carries, when it is not the address's host");
}

/** The flags that say where the schemas come from. */
function withSchemaFlags(command: CommandType): CommandType {
  return command
    .option("--schema <input>", "schemas from a buf input: a directory of .proto files, a buf module, an image; repeatable (default: ask the server)", collect, [])
    .option("--proto <file>", "schemas from a .proto file, found under --import-path; repeatable", collect, [])
    .option("-I, --import-path <dir>", "where --proto files and their imports are found (default: .)", collect, []);
}

const program = new Command("strata")
  .description("Call, list, describe and load-test Strata RPC servers; run the conformance suite.")
  .version(VERSION)
  .showHelpAfterError("(add --help for usage)")
  // Descriptions say the defaults worth knowing; commander's "(default: [])" and "(default: false)" say nothing.
  .configureHelp({ optionDescription: (option) => option.description })
  .exitOverride((error) => process.exit(error.code === "commander.helpDisplayed" || error.code === "commander.version" || error.code === "commander.help" ? 0 : EXIT_USAGE));

withSchemaFlags(
  withConnectionFlags(
    program
      .command("call")
      .description("make one call and print the answer as JSON; the exit code says the layer and code of a failure")
      .argument("<address>", ADDRESS_HELP)
      .argument("<method>", "package.Service/Method")
      .option("-d, --data <json>", "the request as JSON; @file reads a file, @- reads stdin (default {})", "{}")
      .option("-H, --header <key: value>", "a metadata entry; repeatable", collect, [])
      .option("--keys <keys>", "keys for keyed dispatch, comma-separated; repeatable", collect, [])
      .option("--oneway", "fire and forget: the server answers nothing", false)
      .option("--acked", "wait for the server's ACK, then for the answer", false),
  ),
).action(async (address: string, method: string, options: Record<string, unknown>) => {
  await guarded(async () => {
    const connection = connectionFlagsOf(address, options);
    const registry = await loadSchemas(options as unknown as SchemaFlags, connection);
    const flags: CallFlags = { ...connection, data: options["data"] as string, header: options["header"] as string[], keys: options["keys"] as string[], oneway: options["oneway"] as boolean, acked: options["acked"] as boolean };
    return runCall(method, flags, registry);
  });
});

withSchemaFlags(
  withConnectionFlags(
    program
      .command("list")
      .description("list the server's services (from its reflection service, or from --schema/--proto)")
      .argument("<address>", ADDRESS_HELP)
      .option("-l, --long", "each method with its input and output types", false),
  ),
).action(async (address: string, options: Record<string, unknown>) => {
  await guarded(async () => {
    const connection = connectionFlagsOf(address, options);
    const { registry, offered } = await loadSchemasAndServices(options as unknown as SchemaFlags, connection);
    process.stdout.write(`${formatServiceList(registry, options["long"] as boolean, offered)}\n`);
    return 0;
  });
});

withSchemaFlags(
  withConnectionFlags(
    program
      .command("describe")
      .description("show a service, method, message or enum")
      .argument("<address>", ADDRESS_HELP)
      .argument("<symbol>", "e.g. acme.greet.v1.GreeterService, acme.greet.v1.GreeterService/SayHello, acme.greet.v1.SayHelloRequest"),
  ),
).action(async (address: string, symbol: string, options: Record<string, unknown>) => {
  await guarded(async () => {
    const connection = connectionFlagsOf(address, options);
    const registry = await loadSchemas(options as unknown as SchemaFlags, connection);
    process.stdout.write(`${describeSymbol(registry, symbol)}\n`);
    return 0;
  });
});

withConnectionFlags(
  program
    .command("stats")
    .description("the server's counters from its admin service (strata.admin.v1.AdminService)")
    .argument("<address>", ADDRESS_HELP)
    .option("--json", "print the service's answer as JSON", false),
).action(async (address: string, options: Record<string, unknown>) => {
  await guarded(() => runStats(connectionFlagsOf(address, options), options["json"] as boolean));
});

addBenchCommand(program, withConnectionFlags, withSchemaFlags, guarded);

const conformance = program.command("conformance").description("run the Strata conformance suite against a server (needs fast-check, an optional dependency)");
// The suite (and fast-check) load only for this command.
if (process.argv[2] === "conformance") {
  try {
    const { addServerCommand } = await import("../../conformance/command.ts");
    addServerCommand(conformance, "npx strata conformance", (code) => (exitCode = code));
  } catch (error) {
    process.stderr.write(`strata conformance: the suite could not load (${(error as Error).message}); it needs fast-check: npm install fast-check\n`);
    process.exit(EXIT_USAGE);
  }
}

if (process.argv.length <= 2) {
  program.outputHelp({ error: true });
  process.exit(EXIT_USAGE);
}
await program.parseAsync(process.argv);
process.exitCode = exitCode;
