// TLS listeners that get section 19 wrong on purpose, each in one way an
// implementer could: serving plaintext on the TLS port too, ignoring ALPN,
// not checking the client certificates it asks for, leaving the TLS
// handshake unbounded or bounding it by inactivity, hiding the client's identity from handlers. A mutant
// with `tls` runs over TLS, without the proxy (the deviation is in the
// listener).

import * as net from "node:net";
import * as tls from "node:tls";
import type { Transport, TransportFactory, TransportListener } from "../../src/transport/index.ts";
import { formatAddress, SocketTransport, type TlsInfo } from "../../src/transport/socket-transport.ts";
import { parseTlsAddress } from "../../src/transport/address.ts";
import type { SpawnTls } from "../runner/case.ts";
import type { Mutant } from "./mutating-proxy.ts";

/** What a mutant TLS listener does differently from the reference one; none set: the same. */
export interface TlsDeviation {
  /** Serve a connection whose first byte is not a TLS record as plaintext Strata [TLS-1]. */
  plaintextToo?: boolean;
  /** Configure no ALPN protocols [TLS-3]. */
  noAlpn?: boolean;
  /** Ask for client certificates, never reject one [TLS-5]. */
  acceptAnyCertificate?: boolean;
  /** The TLS handshake's bound, instead of the server's handshake timeout [TLS-7]. */
  handshakeTimeoutMs?: number;
  /** Never tell handlers the client's identity [TLS-6]. */
  hideIdentity?: boolean;
  /** Bound the handshake by inactivity, a timer each byte restarts, instead of from accept [TLS-7]. */
  idleHandshakeBound?: boolean;
}

function info(socket: tls.TLSSocket, deviation: TlsDeviation): TlsInfo {
  const x509 = socket.getPeerX509Certificate();
  const identity = x509 === undefined || deviation.hideIdentity || (!socket.authorized && !deviation.acceptAnyCertificate) ? undefined : {
    subject: x509.subject,
    subjectAltNames: x509.subjectAltName?.split(", ") ?? [],
    fingerprint256: x509.fingerprint256,
  };
  return { protocol: typeof socket.alpnProtocol === "string" ? socket.alpnProtocol : undefined, peerCertificate: identity };
}

/** A TLS listener built directly on node:tls with `deviation`; it only listens (the suite is the client). */
export function mutantTlsTransport(settings: SpawnTls, deviation: TlsDeviation): TransportFactory {
  const mode = settings.clientCertificate ?? "none";
  return {
    connect: () => Promise.reject(new Error("a mutant TLS transport only listens")),
    listen(address, options, accept): Promise<TransportListener> {
      const target = parseTlsAddress(address);
      const highWaterMark = options.highWaterMark ?? 1024 * 1024;
      const secureOptions: tls.TlsOptions = {
        cert: settings.cert!,
        key: settings.key!,
        ...(settings.ca === undefined ? {} : { ca: settings.ca }),
        requestCert: mode !== "none",
        rejectUnauthorized: mode === "require" && !deviation.acceptAnyCertificate,
        ...(deviation.noAlpn ? {} : { ALPNProtocols: ["strata"] }),
        handshakeTimeout: deviation.idleHandshakeBound ? 120_000 : (deviation.handshakeTimeoutMs ?? options.handshakeTimeoutMs ?? 10_000),
      };
      const secured = (socket: tls.TLSSocket) => {
        if (!deviation.acceptAnyCertificate && mode !== "none" && !socket.authorized && (mode === "require" || socket.getPeerX509Certificate() !== undefined)) return void socket.destroy();
        accept(new SocketTransport(socket, target, highWaterMark, info(socket, deviation)) as Transport);
      };
      const tlsServer = tls.createServer(secureOptions, secured);
      tlsServer.on("tlsClientError", (_error, socket) => socket.destroy());
      // plaintextToo: a plain listener in front that peeks at the first byte and hands TLS on.
      const server = deviation.idleHandshakeBound
        ? idleBoundFront(tlsServer, options.handshakeTimeoutMs ?? 10_000)
        : deviation.plaintextToo
        ? net.createServer({ pauseOnConnect: true }, (socket) => {
            socket.once("data", (first: Buffer) => {
              socket.pause();
              socket.unshift(first);
              if (first[0] === 0x16) tlsServer.emit("connection", socket);
              else accept(new SocketTransport(socket, target, highWaterMark));
            });
            socket.resume();
          })
        : tlsServer;
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen({ host: target.host, port: target.port }, () => {
          const bound = server.address() as net.AddressInfo;
          resolve({ address: `tls:${formatAddress(bound.address, bound.port)}`, close: () => new Promise<void>((done) => server.close(() => done())) });
        });
      });
    },
  };
}

/**
 * A plain TCP front for `tlsServer` (which it starts on a port of its own)
 * that closes a connection once the client has sent nothing for `idleMs`
 * while the server has not yet answered: a bound each byte restarts [TLS-7].
 */
function idleBoundFront(tlsServer: tls.Server, idleMs: number): net.Server {
  const behind = new Promise<number>((resolve) => tlsServer.listen(0, "127.0.0.1", () => resolve((tlsServer.address() as net.AddressInfo).port)));
  const front = net.createServer(async (client) => {
    const upstream = net.connect(await behind, "127.0.0.1");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const end = () => {
      clearTimeout(timer);
      client.destroy();
      upstream.destroy();
    };
    const restart = () => {
      clearTimeout(timer);
      timer = setTimeout(end, idleMs);
    };
    restart();
    client.on("data", (chunk: Buffer) => {
      if (timer !== undefined) restart();
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      clearTimeout(timer); // the handshake goes on: no bound from here
      timer = undefined;
      client.write(chunk);
    });
    for (const socket of [client, upstream]) {
      socket.on("error", end);
      socket.on("close", end);
    }
  });
  front.on("close", () => tlsServer.close());
  return front;
}

const mutant = (name: string, description: string, caughtBy: string[], deviation: TlsDeviation): Mutant => ({
  name,
  description,
  caughtBy,
  tls: (settings) => mutantTlsTransport(settings, deviation),
});

/** Mutants that break section 19; each runs over TLS. */
export const tlsMutants: Mutant[] = [
  mutant("tls-plaintext-too", "serves plaintext Strata on its TLS port when the first byte is not a TLS record [TLS-1]", ["tls/plaintext-refused"], { plaintextToo: true }),
  mutant("tls-alpn-ignored", "configures no ALPN: selects nothing, and serves clients that offer only other protocols [TLS-3]", ["tls/alpn-strata-selected", "tls/offer-without-strata-refused"], { noAlpn: true }),
  mutant("tls-client-certificate-unchecked", "asks for client certificates and accepts any, verified or not [TLS-5]", ["tls/client-certificate-required", "tls/requested-certificate-verified"], { acceptAnyCertificate: true }),
  mutant("tls-handshake-unbounded", "leaves the TLS handshake to node's 120 s default, not the handshake timeout [TLS-7]", ["tls/handshake-bounded"], { handshakeTimeoutMs: 120_000 }),
  mutant("tls-handshake-idle-bound", "bounds the TLS handshake by inactivity, so a ClientHello trickled a byte at a time keeps the connection open [TLS-7]", ["tls/handshake-bounded"], { idleHandshakeBound: true }),
  mutant("tls-identity-hidden", "never shows handlers the client's verified certificate [TLS-6]", ["tls/handler-sees-identity"], { hideIdentity: true }),
];
