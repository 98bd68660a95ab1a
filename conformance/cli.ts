// strata-conformance in this repository: `npm run conformance -- server …`.
// From an install the same suite is `npx strata conformance server …`.
//
// Exit codes: 0 all cases passed, 1 failures, 2 usage error, 3 harness
// error (the server did not start or answer).
import { Command } from "commander";
import { addServerCommand } from "./command.ts";

let code = 0;
const program = new Command("strata-conformance")
  .description("the Strata conformance suite")
  .exitOverride((error) => process.exit(error.code === "commander.helpDisplayed" || error.code === "commander.version" ? 0 : 2));
addServerCommand(program, "npm run conformance --", (exit) => (code = exit));
await program.parseAsync(process.argv);
process.exitCode = code;
