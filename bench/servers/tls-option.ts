// `--tls FILE` on a benchmark server's command line: a JSON file holding
// {"cert", "key"} (PEM) to listen with TLS instead of plain TCP; the
// harness writes it with certificates it made (bench/tls.ts).
import { readFileSync } from "node:fs";

/** The certificate and key named by `--tls FILE`, or undefined for plain TCP. */
export function tlsOption(): { cert: string; key: string } | undefined {
  const at = process.argv.indexOf("--tls");
  if (at < 0) return undefined;
  return JSON.parse(readFileSync(process.argv[at + 1]!, "utf8")) as { cert: string; key: string };
}
