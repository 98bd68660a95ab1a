// Addresses and their schemes. An address names its transport by a scheme
// prefix ("unix:/tmp/s", "memory:name", "tls:host:port", later
// "ws://host/path"); a plain "host:port" or "[v6]:port" is TCP, as is
// "tcp:host:port". Clients and servers pick the transport by the scheme.

/** A TCP host and port, or a Unix socket path. */
export type SocketAddress = { host: string; port: number } | { path: string };

const SCHEME = /^([a-z][a-z0-9+.-]*):(.*)$/s;

/**
 * The scheme of an address: "tcp" for "host:port", "[v6]:port",
 * "tcp:host:port" and "tcp://host:port"; otherwise the text before the first colon ("unix",
 * "memory", "tls", "ws", ...). Throws a TypeError for an empty address.
 */
export function addressScheme(address: string): string {
  if (typeof address !== "string" || address === "") throw new TypeError(`invalid address ${JSON.stringify(address)}: empty`);
  const match = SCHEME.exec(address);
  // "localhost:7400": what follows the colon is a port, so the prefix is a host.
  if (match === null || /^\d+$/.test(match[2]!)) return "tcp";
  return match[1]!;
}

/** Parses "host:port", "[::1]:port", "tcp:host:port", "tcp://host:port" or "unix:/path"; throws a TypeError naming the problem. */
export function parseSocketAddress(address: string): SocketAddress {
  if (address.startsWith("unix:")) {
    const path = address.slice(5);
    if (path === "") throw new TypeError(`invalid address "${address}": empty Unix socket path`);
    return { path };
  }
  const hostPort = address.startsWith("tcp://") ? address.slice(6) : address.startsWith("tcp:") ? address.slice(4) : address;
  // A host is a name or an IPv4 address (no spaces, slashes or other URL parts), or an IPv6 address in brackets.
  const match = /^(?:\[([0-9A-Fa-f:.]+(?:%[\w.-]+)?)\]|([^\s:/[\]@?#%]*)):(\d+)$/.exec(hostPort);
  if (!match) throw new TypeError(`invalid address "${address}": expected host:port, [ipv6]:port, tcp://host:port or unix:/path`);
  const port = Number(match[3]);
  if (port > 65535) throw new TypeError(`invalid address "${address}": port above 65535`);
  return { host: match[1] ?? (match[2] || "127.0.0.1"), port };
}

/** Parses "tls:host:port" or "tls://host:port" (spec section 19); throws a TypeError naming the problem. */
export function parseTlsAddress(address: string): { host: string; port: number } {
  const rest = address.startsWith("tls://") ? address.slice(6) : address.startsWith("tls:") ? address.slice(4) : undefined;
  if (rest === undefined || rest.startsWith("unix:") || rest.startsWith("tcp:") || !/:\d+$/.test(rest)) {
    throw new TypeError(`invalid address "${address}": expected tls:host:port, tls:[ipv6]:port or tls://host:port`);
  }
  const parsed = parseSocketAddress(rest);
  if (!("port" in parsed)) throw new TypeError(`invalid address "${address}": expected tls:host:port`);
  return parsed;
}

/** "host:port", with an IPv6 host in brackets. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
