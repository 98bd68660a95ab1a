// Raw TLS and TCP handshakes with the server under test, for the cases of
// section 19: which ALPN protocol it selects, whether it serves a client
// with a given certificate (its preface arrives) or refuses it, and what it
// does with bytes that are not TLS. A wss:// target is probed the same way
// through a raw WebSocket (websocket-probe.ts).

import * as net from "node:net";
import * as tls from "node:tls";
import { encodeFrame, encodeHello, encodePreface, FrameType, PREFACE_MAGIC } from "../../src/wire/index.ts";
import { parseTlsAddress } from "../../src/transport/address.ts";
import type { KeyPair } from "./certificates.ts";
import type { CaseContext } from "./context.ts";
import { probeWebSocket } from "./websocket-probe.ts";

/** How a TLS handshake with the server ended. */
export interface TlsProbe {
  /** "served": the server's Strata preface arrived; "refused": the handshake failed or the connection ended first; "silent": neither within the wait. */
  outcome: "served" | "refused" | "silent";
  /** The ALPN protocol the server selected, false when none, undefined when the handshake did not complete (or over wss). */
  alpn: string | false | undefined;
  /** Why it was refused, as the TLS stack reported it. */
  error: string | undefined;
}

/** The host and port of the context's `tls:` or `wss:` target. */
function target(ctx: CaseContext): { host: string; port: number } {
  if (!ctx.address.startsWith("wss:")) return parseTlsAddress(ctx.address);
  const url = new URL(ctx.address);
  return { host: url.hostname.replace(/^\[|\]$/g, ""), port: Number(url.port || 443) };
}

/** Whether `bytes` hold the Strata magic anywhere. */
export function holdsPreface(bytes: Uint8Array): boolean {
  return Buffer.from(bytes).includes(Buffer.from(PREFACE_MAGIC));
}

const handshake = () => Buffer.concat([encodePreface(), encodeFrame({ type: FrameType.HELLO }, encodeHello({ agent: "strata-conformance" }))]);

/**
 * Opens a TLS connection offering `alpn` (default ["strata"]) and presenting
 * `client` (default: the suite's client certificate, as every connection of
 * the suite does; `null`: none), sends a preface and HELLO once the handshake completes, and
 * waits up to `waitMs` for the server's preface. To a wss:// target, the
 * same through a WebSocket upgrade, with no ALPN of its own [TLS-5].
 */
export function probeTls(ctx: CaseContext, options: { alpn?: string[] | null; client?: KeyPair | null; waitMs?: number } = {}): Promise<TlsProbe> {
  if (ctx.address.startsWith("wss:")) return probeWss(ctx, options.client, options.waitMs ?? 5000);
  const { host, port } = target(ctx);
  const suite = ctx.tls!;
  const servername = suite.serverName ?? (net.isIP(host) === 0 ? host : undefined);
  const client = options.client === null ? undefined : (options.client ?? suite.client);
  return new Promise((resolve) => {
    let alpn: string | false | undefined;
    let received = Buffer.alloc(0);
    let settled = false;
    const finish = (outcome: TlsProbe["outcome"], error?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ outcome, alpn, error });
    };
    const socket = tls.connect({
      host,
      port,
      ...(servername === undefined ? {} : { servername }),
      ...(suite.ca === undefined ? {} : { ca: suite.ca }),
      ...(client ?? {}),
      ...(options.alpn === null ? {} : { ALPNProtocols: options.alpn ?? ["strata"] }),
    });
    const timer = setTimeout(() => finish("silent"), options.waitMs ?? 5000);
    socket.once("secureConnect", () => {
      alpn = socket.alpnProtocol ?? false;
      socket.write(handshake());
    });
    socket.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < PREFACE_MAGIC.length) return;
      if (holdsPreface(received.subarray(0, PREFACE_MAGIC.length))) finish("served");
      else finish("refused", "bytes other than a preface");
    });
    socket.on("error", (error: Error & { code?: string }) => finish("refused", error.code ?? error.message));
    socket.on("close", () => finish("refused", "the connection ended"));
  });
}

/** probeTls over wss: the upgrade presenting `client` (the suite's by default, none for `null`), then a preface and HELLO; served once the server's preface arrives. */
function probeWss(ctx: CaseContext, client: KeyPair | null | undefined, waitMs: number): Promise<TlsProbe> {
  const probe = probeWebSocket(ctx, { client });
  return new Promise((resolve) => {
    let settled = false;
    const finish = (outcome: TlsProbe["outcome"], error?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      probe.socket.terminate();
      resolve({ outcome, alpn: undefined, error });
    };
    const timer = setTimeout(() => finish("silent"), waitMs);
    void probe.status.then((status) => {
      if (status === 101) probe.socket.send(handshake());
      else finish("refused", status === undefined ? "the TLS handshake or the upgrade failed" : `HTTP ${status} to the upgrade`);
    });
    // probeWebSocket's own listener has stored the message by now.
    probe.socket.on("message", () => {
      const received = Buffer.concat(probe.messages);
      if (received.length < PREFACE_MAGIC.length) return;
      if (holdsPreface(received.subarray(0, PREFACE_MAGIC.length))) finish("served");
      else finish("refused", "bytes other than a preface");
    });
    probe.socket.on("close", () => finish("refused", "the connection ended"));
  });
}

/**
 * Sends `bytes` (if any) on a plain TCP connection to the TLS port, at once
 * or one byte every `trickleMs`; resolves with what arrived and when it
 * closed, within `waitMs`.
 */
export function plainExchange(ctx: CaseContext, bytes: Uint8Array | undefined, waitMs: number, trickleMs = 0): Promise<{ received: Uint8Array; closedAfterMs: number | undefined }> {
  const { host, port } = target(ctx);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const started = performance.now();
    let settled = false;
    const finish = (closed: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ received: Buffer.concat(chunks), closedAfterMs: closed ? performance.now() - started : undefined });
    };
    let trickle: ReturnType<typeof setInterval> | undefined;
    const socket = net.connect({ host, port }, () => {
      if (bytes === undefined) return;
      if (trickleMs <= 0) return void socket.write(bytes);
      let sent = 0;
      trickle = setInterval(() => {
        if (sent < bytes.length) socket.write(bytes.subarray(sent, ++sent));
      }, trickleMs);
    });
    socket.once("close", () => clearInterval(trickle));
    const timer = setTimeout(() => finish(false), waitMs);
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", () => finish(true));
    socket.on("close", () => finish(true));
  });
}
