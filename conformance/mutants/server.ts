// A mutant server for the suite's spawn mode: the reference conformance
// server behind a mutating proxy.
//
//   tsx conformance/mutants/server.ts NAME --spawn     (see conformance/README.md)
//   tsx conformance/mutants/server.ts --list
import type { ServerSettings } from "../runner/case.ts";
import { createReferenceServer } from "../reference/server-options.ts";
import { startMutatingProxy, type Mutant } from "./mutating-proxy.ts";
import { findMutant, mutants } from "./mutants.ts";
import { startWebSocketFront } from "./websocket-mutants.ts";

/** Starts the reference server with `settings` (and the mutant's own server options) and the mutant's proxy in front (by name, or a Mutant not in the list); returns the proxy's address. */
export async function startMutant(which: string | Mutant, settings: ServerSettings = {}): Promise<{ address: string; stop(): Promise<void> }> {
  const mutant = typeof which === "string" ? findMutant(which) : which;
  if (mutant === undefined) throw new Error(`unknown mutant "${String(which)}"; --list shows them`);
  if ((settings as { listen?: string }).listen?.startsWith("wss:")) throw new Error(`mutant "${mutant.name}" does not run over wss (--websocket --tls): the TLS mutants run with --tls, the WebSocket ones with --websocket`);
  if (settings.tls !== undefined) {
    // Over TLS the mutant listens itself; a mutant made by the proxy breaks its rule over TCP only.
    if (mutant.tls === undefined) throw new Error(`mutant "${mutant.name}" runs over TCP only; the TLS mutants are those of tls-mutants.ts`);
    const server = createReferenceServer(settings, { ...mutant.serverOptions?.(), transports: { tls: mutant.tls(settings.tls) } });
    const address = await server.listen((settings as { listen?: string }).listen ?? "tls:127.0.0.1:0");
    return { address, stop: () => server.close({ graceMs: 100 }) };
  }
  const server = createReferenceServer(settings, mutant.serverOptions?.());
  if (mutant.webSocket !== undefined) {
    const front = await startWebSocketFront(await server.listen("ws://127.0.0.1:0/strata"), mutant.webSocket, settings.handshakeTimeoutMs);
    return {
      address: front.address,
      stop: async () => {
        await front.close();
        await server.close({ graceMs: 100 });
      },
    };
  }
  const upstream = await server.listen("127.0.0.1:0");
  const proxy = await startMutatingProxy(mutant, upstream);
  return {
    address: proxy.address,
    stop: async () => {
      await proxy.close();
      await server.close({ graceMs: 100 });
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith("mutants/server.ts")) {
  if (process.argv.includes("--list")) {
    for (const m of mutants) console.log(`${m.name.padEnd(28)} ${m.description}`);
  } else {
    const name = process.argv[2] ?? "";
    let settings: ServerSettings = {};
    if (process.argv.includes("--spawn")) {
      let text = "";
      for await (const chunk of process.stdin) {
        text += String(chunk);
        if (text.includes("\n")) break;
      }
      settings = JSON.parse(text.slice(0, text.indexOf("\n"))) as ServerSettings;
    }
    const running = await startMutant(name, settings);
    process.on("SIGTERM", () => void running.stop().then(() => process.exit(0)));
    process.stdout.write(`${JSON.stringify({ address: running.address })}\n`);
  }
}
