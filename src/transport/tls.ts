// TLS transports on node:tls, which Node, Bun and Deno all provide (spec
// section 19): TLS from the first byte, ALPN "strata", the server verified
// by its certificate and name, the client by its certificate when the
// server asks for one. Addresses are "tls:host:port" or "tls://host:port".

import * as net from "node:net";
import * as tls from "node:tls";
import type { ConnectOptions, ListenOptions, Transport, TransportFactory, TransportListener } from "./transport.ts";
import { checkClientCertificateMode, clientCertificateOptions, refusesClient, verifiedPeerCertificate, type ClientCertificateMode } from "./client-certificate.ts";
import { parseTlsAddress } from "./address.ts";
import { formatAddress, SocketTransport, type TlsInfo } from "./socket-transport.ts";
import { setTimer, type Timer } from "../util/timer.ts";
import { checkedPem, type Pem } from "./pem.ts";
import { HandshakingSockets } from "./handshaking-sockets.ts";

/** The ALPN protocol id of Strata over TLS; the preface negotiates the version, so the id carries none [TLS-3]. */
export const TLS_ALPN_PROTOCOL = "strata";

const DEFAULT_BACKLOG = 511;
const DEFAULT_HIGH_WATER_MARK = 1024 * 1024;
const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;

export type { Pem } from "./pem.ts";

/** How a TLS transport authenticates itself and its peers (spec section 19). */
export interface TlsOptions {
  /** The certificate chain this side presents, PEM: required to listen; on a client, for a server that asks for one [TLS-5]. */
  cert?: Pem;
  /** The private key of `cert`, PEM. */
  key?: Pem;
  /**
   * Trust anchors for the peer's certificate, PEM: a client trusts the
   * runtime's list of public CAs when none are given [TLS-4]; a server
   * needs them to verify client certificates [TLS-5].
   */
  ca?: Pem | readonly Pem[];
  /**
   * Server: whether clients present a certificate: "none" (the default),
   * "request" (one presented must verify), or "require" [TLS-5].
   */
  clientCertificate?: ClientCertificateMode;
  /** Client: the name the server's certificate must carry, and the SNI sent, when it is not the address's host [TLS-4]. */
  serverName?: string;
}

const asBuffer = (pem: Pem): string | Buffer => (typeof pem === "string" ? pem : Buffer.from(pem.buffer, pem.byteOffset, pem.byteLength));
const trusted = (ca: TlsOptions["ca"]) =>
  ca === undefined ? undefined : (Array.isArray(ca) ? ca : [ca as Pem]).map((one, i) => asBuffer(checkedPem(`tlsTransport: ca${Array.isArray(ca) ? `[${i}]` : ""}`, one)));

function tlsInfo(socket: tls.TLSSocket): TlsInfo {
  const protocol = socket.alpnProtocol;
  return { protocol: typeof protocol === "string" ? protocol : undefined, peerCertificate: verifiedPeerCertificate(socket) };
}

/** A TLS transport: `tls:host:port` addresses, the server's certificate verified against `ca` or the runtime's CAs [TLS-4]. */
export function tlsTransport(options: TlsOptions = {}): TransportFactory {
  const ca = trusted(options.ca);
  const own = options.cert === undefined || options.key === undefined ? {} : { cert: asBuffer(checkedPem("tlsTransport: cert", options.cert)), key: asBuffer(checkedPem("tlsTransport: key", options.key)) };
  if ((options.cert === undefined) !== (options.key === undefined)) throw new TypeError("tlsTransport: cert and key go together: give both or neither");
  const clientCertificate = checkClientCertificateMode("tlsTransport", options.clientCertificate, ca, "ca");

  /** Opens TCP, completes the TLS handshake and checks the server before any Strata byte is sent [TLS-1] [TLS-4]. */
  function connect(address: string, connectOptions: ConnectOptions = {}): Promise<Transport> {
    const target = parseTlsAddress(address);
    // SNI carries DNS names only (RFC 6066); an IP address is verified against the certificate's IP SANs.
    const servername = options.serverName ?? (net.isIP(target.host) === 0 ? target.host : undefined);
    return new Promise((resolve, reject) => {
      const socket = tls.connect({
        host: target.host,
        port: target.port,
        ...(servername === undefined ? {} : { servername }),
        ...(ca === undefined ? {} : { ca }),
        ...own,
        ALPNProtocols: [TLS_ALPN_PROTOCOL],
        minVersion: "TLSv1.2",
        rejectUnauthorized: true,
        // On the TCP socket below TLS: a TLS socket's own setNoDelay does not reach it on every runtime.
        noDelay: true,
      } as unknown as tls.ConnectionOptions);
      let timer: Timer | undefined;
      const fail = (error: Error) => {
        timer?.clear();
        socket.destroy();
        reject(error);
      };
      if (connectOptions.timeoutMs !== undefined) {
        timer = setTimer(() => fail(new Error(`connecting to ${address} timed out after ${connectOptions.timeoutMs} ms (TCP and TLS handshake)`)), connectOptions.timeoutMs);
      }
      socket.once("secureConnect", () => {
        const protocol = socket.alpnProtocol;
        if (typeof protocol === "string" && protocol !== TLS_ALPN_PROTOCOL) {
          return fail(new Error(`${address} selected the ALPN protocol "${protocol}", not "${TLS_ALPN_PROTOCOL}" [TLS-3]`));
        }
        if (!socket.authorized) return fail(new Error(`${address}: the server's certificate did not verify: ${socket.authorizationError} [TLS-4]`));
        timer?.clear();
        socket.removeAllListeners("error");
        resolve(new SocketTransport(socket, target, connectOptions.highWaterMark ?? DEFAULT_HIGH_WATER_MARK, tlsInfo(socket)));
      });
      socket.once("error", (error: Error & { code?: string }) => fail(new Error(`TLS connection to ${address} failed: ${error.message}${error.code === undefined ? "" : ` (${error.code})`} [TLS-4]`)));
    });
  }

  /** Listens for TLS: the handshake bounded by the handshake timeout, clients verified as `clientCertificate` says [TLS-5] [TLS-7]. */
  function listen(address: string, listenOptions: ListenOptions, accept: (transport: Transport) => void): Promise<TransportListener> {
    const target = parseTlsAddress(address);
    if (own.cert === undefined) {
      return Promise.reject(new TypeError(`listening on "${address}" needs a certificate and its key: pass { transports: { tls: tlsTransport({ cert, key }) } } from "strata-rpc/tls" [TLS-4]`));
    }
    const highWaterMark = listenOptions.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
    return new Promise((resolve, reject) => {
      // Node bounds each handshake (handshakeTimeout); those still in progress are cut when the listener closes.
      const handshaking = new HandshakingSockets();
      const server = tls.createServer(
        {
          ...own,
          ...(ca === undefined ? {} : { ca }),
          ...clientCertificateOptions(clientCertificate),
          ALPNProtocols: [TLS_ALPN_PROTOCOL],
          minVersion: "TLSv1.2",
          handshakeTimeout: listenOptions.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
          noDelay: true,
        },
        (socket) => {
          handshaking.done(socket);
          if (refusesClient(socket, clientCertificate)) return void socket.destroy();
          accept(new SocketTransport(socket, target, highWaterMark, tlsInfo(socket)));
        },
      );
      server.on("connection", (socket: net.Socket) => handshaking.add(socket));
      // A failed or timed-out handshake: with a listener here, ending the socket is ours to do.
      server.on("tlsClientError", (_error, socket) => socket.destroy());
      server.once("error", reject);
      server.listen({ host: target.host, port: target.port, backlog: listenOptions.backlog ?? DEFAULT_BACKLOG }, () => {
        server.removeListener("error", reject);
        const bound = server.address() as net.AddressInfo;
        const close = () =>
          new Promise<void>((done) => {
            server.close(() => done());
            // Handshakes still in progress would hold the close up until they time out.
            handshaking.destroyAll();
          });
        resolve({ address: `tls:${formatAddress(bound.address, bound.port)}`, close });
      });
    });
  }

  return { connect, listen };
}
