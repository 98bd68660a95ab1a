// Section 19: TLS. These cases run only against a TLS server (--target
// tls:HOST:PORT or wss://HOST:PORT/PATH, or --tls in spawn mode, also with
// --websocket); the rest of the suite runs over the same TLS connections,
// so every other section is checked over TLS too. Over wss the ALPN cases
// skip: that TLS carries HTTP/1.1, whose ALPN ids are HTTP's.
import { X509Certificate } from "node:crypto";
import { encodeFrame, encodeHello, encodePreface, FrameType } from "../../src/wire/index.ts";
import { CaseSkip, expect } from "../runner/case-outcome.ts";
import type { ConformanceCase } from "../runner/case.ts";
import type { CaseContext } from "../runner/context.ts";
import { suiteTransports } from "../runner/suite-tls.ts";
import { holdsPreface, plainExchange, probeTls, type TlsProbe } from "../runner/tls-probe.ts";
import { probeWebSocket } from "../runner/websocket-probe.ts";

const section = "19 TLS";
const show = (p: TlsProbe) => `${p.outcome}${p.alpn === undefined ? "" : `, ALPN ${p.alpn === false ? "none" : `"${p.alpn}"`}`}${p.error === undefined ? "" : ` (${p.error})`}`;
const hexDigits = (fingerprint: string) => fingerprint.replace(/:/g, "").toUpperCase();

/** The suite's certificate from a CA the server does not trust, or a skip where openssl could not make one. */
function foreignClient(ctx: CaseContext) {
  if (ctx.tls?.foreignClient === undefined) throw new CaseSkip("needs a client certificate from an unknown CA, which the suite makes with openssl (apt-get install -y openssl)");
  return ctx.tls.foreignClient;
}

/** Whether the target is WebSocket over TLS (section 18) rather than section 19's TLS. */
const overWss = (ctx: CaseContext) => ctx.address.startsWith("wss:");

/**
 * The start of a TLS record holding a ClientHello of 512 bytes: content
 * type handshake, version, length, then the handshake's type and length and
 * the client version; 30 bytes, a server waits for the rest.
 */
const CLIENT_HELLO_START = Uint8Array.of(0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, ...new Array<number>(19).fill(0x5a));

/** A skip for the ALPN cases over wss, where ALPN is HTTP's and the WebSocket subprotocol names Strata [TLS-3] [WS-1]. */
function alpnIsStrataOnly(ctx: CaseContext): void {
  if (overWss(ctx)) {
    throw new CaseSkip("[TLS-3] is for section 19's TLS: over wss the TLS connection carries HTTP/1.1 (RFC 6455), so its ALPN ids are HTTP's (a browser offers h2 and http/1.1 and must be served), and Strata is named by the WebSocket subprotocol instead ([WS-1], websocket/subprotocol-required)");
  }
}

function trustedClient(ctx: CaseContext) {
  if (ctx.tls?.client === undefined) throw new CaseSkip("needs a client certificate the server trusts (spawn mode with --tls, or --cert and --key)");
  return ctx.tls.client;
}

export const tlsCases: ConformanceCase[] = [
  {
    name: "tls/alpn-strata-selected",
    section,
    requirements: ["TLS-3"],
    tls: "only",
    title: "A client offering ALPN strata (with another id before it) gets strata selected and the server's preface",
    async run(ctx) {
      alpnIsStrataOnly(ctx);
      for (const alpn of [["strata"], ["h2", "strata"]]) {
        const probe = await probeTls(ctx, { alpn });
        expect(probe.outcome === "served" && probe.alpn === "strata", `ALPN "strata" selected when the client offers ${JSON.stringify(alpn)}, then the server's preface`, show(probe), "TLS-3");
      }
    },
  },
  {
    name: "tls/offer-without-strata-refused",
    section,
    requirements: ["TLS-3"],
    tls: "only",
    title: "A client offering ALPN ids but not strata is refused in the handshake (no_application_protocol), never served",
    async run(ctx) {
      alpnIsStrataOnly(ctx);
      const probe = await probeTls(ctx, { alpn: ["h2", "http/1.1"] });
      expect(probe.outcome === "refused" && probe.alpn === undefined, "the handshake to fail (no_application_protocol alert)", show(probe), "TLS-3");
    },
  },
  {
    name: "tls/no-alpn-served",
    section,
    requirements: ["TLS-3"],
    tls: "only",
    title: "A client offering no ALPN at all is served (its preface identifies it)",
    async run(ctx) {
      alpnIsStrataOnly(ctx);
      const probe = await probeTls(ctx, { alpn: null });
      expect(probe.outcome === "served", "the server's preface, with no ALPN offered", show(probe), "TLS-3");
    },
  },
  {
    name: "tls/plaintext-refused",
    section,
    requirements: ["TLS-1"],
    tls: "only",
    title: "A plaintext preface and HELLO on the TLS port get no Strata bytes back (over wss, nor does a plaintext ws:// upgrade)",
    async run(ctx) {
      const hello = encodeFrame({ type: FrameType.HELLO }, encodeHello({ agent: "strata-conformance" }));
      const { received } = await plainExchange(ctx, Buffer.concat([encodePreface(), hello]), 3000);
      expect(!holdsPreface(received), "no Strata preface in answer to plaintext on a TLS port", `${received.length} bytes, holding the Strata preface`, "TLS-1");
      if (!overWss(ctx)) return;
      const plain = probeWebSocket(ctx, { url: ctx.address.replace(/^wss:/, "ws:") });
      const status = await plain.status;
      plain.socket.terminate();
      expect(status !== 101, "a plaintext WebSocket upgrade (ws://) to the wss port not accepted", "101: the upgrade was accepted outside TLS", "TLS-1");
    },
  },
  {
    name: "tls/handshake-bounded",
    section,
    requirements: ["TLS-7"],
    tls: "only",
    settings: { handshakeTimeoutMs: 1000 },
    title: "A TCP connection that never starts its TLS handshake, and one that trickles a ClientHello a byte every 200 ms, are closed once the handshake timeout (1 s here) passes, within 3 s",
    async run(ctx) {
      const silent = await plainExchange(ctx, undefined, 6000);
      expect(silent.closedAfterMs !== undefined && silent.closedAfterMs < 3000, "the silent connection closed within 3 s (handshake timeout 1 s)", silent.closedAfterMs === undefined ? "still open after 6 s" : `closed after ${silent.closedAfterMs.toFixed(0)} ms`, "TLS-7");
      expect(silent.received.length === 0, "nothing written", `${silent.received.length} bytes`, "TLS-7");
      // The bound runs from accept, not from the last byte: a timer that each byte restarts never ends this one.
      const trickled = await plainExchange(ctx, CLIENT_HELLO_START, 6000, 200);
      expect(trickled.closedAfterMs !== undefined && trickled.closedAfterMs < 3000, "the trickling connection closed within 3 s", trickled.closedAfterMs === undefined ? "still open after 6 s" : `closed after ${trickled.closedAfterMs.toFixed(0)} ms`, "TLS-7");
    },
  },
  {
    name: "tls/client-certificate-required",
    section,
    requirements: ["TLS-5"],
    tls: "only",
    settings: { tls: { clientCertificate: "require" } },
    title: "A server requiring client certificates serves a trusted one and refuses none and one from an unknown CA",
    async run(ctx) {
      const trusted = await probeTls(ctx, { client: trustedClient(ctx) });
      expect(trusted.outcome === "served", "a trusted client certificate served", show(trusted));
      const none = await probeTls(ctx, { client: null });
      expect(none.outcome === "refused", "a client without a certificate refused, before any Strata byte", show(none), "TLS-5");
      const foreign = await probeTls(ctx, { client: foreignClient(ctx) });
      expect(foreign.outcome === "refused", "a certificate from an unknown CA refused, before any Strata byte", show(foreign), "TLS-5");
    },
  },
  {
    name: "tls/requested-certificate-verified",
    section,
    requirements: ["TLS-5"],
    tls: "only",
    settings: { tls: { clientCertificate: "request" } },
    title: "A server requesting client certificates serves clients without one, and refuses one that does not verify",
    async run(ctx) {
      const none = await probeTls(ctx, { client: null });
      expect(none.outcome === "served", "a client without a certificate served", show(none));
      const foreign = await probeTls(ctx, { client: foreignClient(ctx) });
      expect(foreign.outcome === "refused", "a certificate from an unknown CA refused, before any Strata byte", show(foreign), "TLS-5");
    },
  },
  {
    name: "tls/handler-sees-identity",
    section,
    requirements: ["TLS-6", "CONF-6"],
    tls: "only",
    usesConformanceService: true,
    settings: { tls: { clientCertificate: "request" } },
    title: "Info shows the connection secure (with ALPN strata over tls:), the verified client certificate's fingerprint, and no identity without one",
    async run(ctx) {
      const client = trustedClient(ctx);
      const withCertificate = await ctx.connect({ transports: suiteTransports(ctx.tls, client) });
      const seen = await ctx.call(withCertificate, "info", {}, { id: 1 });
      // Over wss the ALPN is HTTP's (none, or http/1.1) and not Strata's to check [TLS-3].
      const alpnOk = overWss(ctx) || seen.alpnProtocol === "strata";
      expect(seen.secure && alpnOk, overWss(ctx) ? "Info: secure" : "Info: secure, ALPN strata", `secure ${seen.secure}, ALPN "${seen.alpnProtocol}"`, "TLS-6");
      const fingerprint = new X509Certificate(client.cert).fingerprint256;
      const reported = seen.peerCertificate?.fingerprint256 ?? "";
      expect(hexDigits(reported) === hexDigits(fingerprint), `the client certificate's fingerprint ${fingerprint}`, reported === "" ? "no peer certificate" : reported, "TLS-6");
      const anonymous = await ctx.connect({ transports: suiteTransports(ctx.tls, null) });
      const none = await ctx.call(anonymous, "info", {}, { id: 1 });
      expect(none.secure && none.peerCertificate === undefined, "Info without a client certificate: secure, no peer certificate", `secure ${none.secure}, peer certificate ${none.peerCertificate?.subject ?? "none"}`, "TLS-6");
    },
  },
];
