// A command that fails for a reason other than its own call, e.g. a
// connection refused while the schemas load: the message for stderr and the
// exit code that says the layer and code of what failed [STATUS-1].

/** An error that ends a command with `exitCode` (see exit-codes.ts) rather than 2 (usage) [STATUS-1]. */
export class CommandFailure extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCode: number) {
    super(message);
    this.name = "CommandFailure";
    this.exitCode = exitCode;
  }
}
