// Network namespaces for partition tests: each "host" is a namespace joined
// to the root namespace by a veth pair on a /30 of 10.213.0.0/16, so a
// process started inside it is reachable at its own address. A cut makes
// every packet to and from one host vanish, with nothing sent back; a heal
// restores the link. Needs root and iproute2 (ip) only: the cut sets the
// namespace's end of the pair down, where tc netem would need the sch_netem
// module and a DROP rule iptables or nft, none of which a minimal install
// has. Names carry the pid, so concurrent runs do not collide, and a run's
// leftovers are removed by the next one once its process is gone.
import { execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { runtimeCommand, type TsChild } from "./spawn-runtime.ts";

/** One host of a lab: a namespace, the veth pair that joins it, and its addresses. */
export interface NetnsHost {
  /** The namespace's name, for `ip netns exec`. */
  readonly namespace: string;
  /** The veth end in the root namespace. */
  readonly hostLink: string;
  /** The veth end inside the namespace. */
  readonly innerLink: string;
  /** The namespace's IPv4 address: where its servers are reached. */
  readonly address: string;
}

/** A set of hosts made for one test run; destroy() removes them. */
export interface NetnsLab {
  readonly hosts: readonly NetnsHost[];
  /**
   * Makes every packet to and from `host` vanish: no FIN, no RST, no ICMP
   * error. A down interface sends nothing, and a veth delivers only to a peer
   * that is up, so what the root namespace sends is dropped too; sockets on
   * either side see no error, only silence.
   */
  cut(host: NetnsHost): void;
  /** Restores `host`'s link: its open TCP connections resume, new ones connect. */
  heal(host: NetnsHost): void;
  /** Removes the veth pairs and namespaces; processes inside must have exited. */
  destroy(): void;
}

const PREFIX = "strp";
const NAME = new RegExp(`^${PREFIX}(\\d+)[a-z]\\d*`);

/** Runs `ip` with `args`; throws with its stderr when it fails. */
export function ip(...args: string[]): string {
  try {
    return execFileSync("ip", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? "").trim();
    throw new Error(`ip ${args.join(" ")} failed: ${stderr || (error as Error).message}`);
  }
}

function quietly(run: () => unknown): void {
  try {
    run();
  } catch {
    // already gone
  }
}

/**
 * Why this machine cannot run a lab, or undefined when it can: it needs
 * root, iproute2, and a kernel with network namespaces and veth.
 */
export function netnsProblem(): string | undefined {
  if (process.getuid?.() !== 0) return "root (CAP_NET_ADMIN, for ip netns and veth pairs) and iproute2: run it as root";
  const probe = `${PREFIX}${process.pid}p`;
  try {
    ip("-V");
  } catch (error) {
    return `iproute2's ip (${(error as Error).message}): apt-get install -y iproute2`;
  }
  try {
    ip("netns", "add", probe);
    ip("link", "add", `${probe}a`, "type", "veth", "peer", "name", `${probe}b`);
    return undefined;
  } catch (error) {
    return `network namespaces and veth pairs (${(error as Error).message})`;
  } finally {
    quietly(() => ip("link", "del", `${probe}a`));
    quietly(() => ip("netns", "del", probe));
  }
}

/** Removes namespaces and root-namespace veth ends left by runs whose process is gone. */
export function removeStaleLabs(): void {
  const stale = (name: string) => {
    const pid = NAME.exec(name)?.[1];
    return pid !== undefined && Number(pid) !== process.pid && !existsSync(`/proc/${pid}`);
  };
  for (const line of ip("-o", "link", "show").split("\n")) {
    const name = /^\d+:\s+([^:@\s]+)/.exec(line)?.[1];
    if (name !== undefined && stale(name)) quietly(() => ip("link", "del", name));
  }
  for (const line of ip("netns", "list").split("\n")) {
    const name = line.split(" ")[0] ?? "";
    if (stale(name)) quietly(() => ip("netns", "del", name));
  }
}

/** A /24 of 10.213.0.0/16 that no root-namespace address is in, tried from one the pid chooses. */
function freeSubnet(): number {
  const used = ip("-4", "-o", "addr", "show");
  for (let i = 0; i < 256; i++) {
    const subnet = (process.pid + i) % 256;
    if (!used.includes(`inet 10.213.${subnet}.`)) return subnet;
  }
  throw new Error("no free /24 in 10.213.0.0/16 for the network namespaces");
}

/**
 * Makes `count` hosts. The root end of each veth pair gets a permanent
 * neighbour entry for the host's address: once the link is cut, the root
 * namespace never finds the address unresolvable (which would fail new
 * connections at once with EHOSTUNREACH, a local error a real partition does
 * not give), so a SYN vanishes like any other packet.
 */
export function createLab(count: number): NetnsLab {
  const subnet = freeSubnet();
  const hosts: NetnsHost[] = [];
  const lab: NetnsLab = {
    hosts,
    cut: (host) => void ip("netns", "exec", host.namespace, "ip", "link", "set", host.innerLink, "down"),
    heal: (host) => void ip("netns", "exec", host.namespace, "ip", "link", "set", host.innerLink, "up"),
    destroy() {
      for (const host of hosts) {
        quietly(() => ip("link", "del", host.hostLink)); // takes its peer with it
        quietly(() => ip("netns", "del", host.namespace));
      }
    },
  };
  try {
    for (let i = 0; i < count; i++) {
      const base = `${PREFIX}${process.pid}`;
      const host = { namespace: `${base}n${i}`, hostLink: `${base}h${i}`, innerLink: `${base}c${i}`, address: `10.213.${subnet}.${4 * i + 2}` };
      hosts.push(host);
      const inside = (...args: string[]) => ip("netns", "exec", host.namespace, "ip", ...args);
      ip("netns", "add", host.namespace);
      ip("link", "add", host.hostLink, "type", "veth", "peer", "name", host.innerLink);
      ip("link", "set", host.innerLink, "netns", host.namespace);
      ip("addr", "add", `10.213.${subnet}.${4 * i + 1}/30`, "dev", host.hostLink);
      ip("link", "set", host.hostLink, "up");
      inside("addr", "add", `${host.address}/30`, "dev", host.innerLink);
      inside("link", "set", host.innerLink, "up");
      inside("link", "set", "lo", "up");
      const mac = /link\/ether (\S+)/.exec(inside("link", "show", host.innerLink))?.[1];
      if (mac === undefined) throw new Error(`no MAC address on ${host.innerLink}`);
      ip("neigh", "replace", host.address, "lladdr", mac, "dev", host.hostLink, "nud", "permanent");
    }
  } catch (error) {
    lab.destroy();
    throw error;
  }
  return lab;
}

/** Runs the TypeScript `file` with `args` on the current runtime inside `host`'s namespace, from the repository root. */
export function spawnInNamespace(host: NetnsHost, file: string, args: string[]): TsChild {
  const { command, args: argv } = runtimeCommand(file, args);
  const root = new URL("../..", import.meta.url).pathname;
  return spawn("ip", ["netns", "exec", host.namespace, command, ...argv], { cwd: root, stdio: ["ignore", "pipe", "pipe"], env: process.env });
}
