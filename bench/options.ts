// The benchmark scripts' command-line options: flags such as `--smoke` and
// numbers such as `--seconds 3`, read with Node's own `util.parseArgs`.
import { parseArgs } from "node:util";

/** Reads this script's flags and numeric options; unknown options are an error, so a typo does not run the default silently. */
export function benchOptions<F extends string, N extends string>(flags: readonly F[], numbers: readonly N[], strings: readonly string[] = []) {
  const options: Record<string, { type: "boolean" | "string" }> = {};
  for (const f of flags) options[f] = { type: "boolean" };
  for (const n of [...numbers, ...strings]) options[n] = { type: "string" };
  const { values } = parseArgs({ args: process.argv.slice(2), options, strict: true });
  const flag = (name: F): boolean => values[name] === true;
  const number = (name: N, fallback: number): number => {
    const text = values[name];
    if (typeof text !== "string") return fallback;
    const value = Number(text);
    if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} wants a non-negative number, got ${JSON.stringify(text)}`);
    return value;
  };
  const string = (name: string): string | undefined => (typeof values[name] === "string" ? (values[name] as string) : undefined);
  return { flag, number, string };
}
