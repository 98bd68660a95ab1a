// Adds to package-lock.json the platform-specific optional packages that
// the registry here does not serve (e.g. @deno/darwin-arm64). `npm install`
// leaves them out of the lock when it cannot fetch their metadata, and
// `npm ci` then refuses the lock as incomplete. Each missing entry gets its
// version and the os/cpu/libc that its name states, so npm ci skips it on
// other platforms without fetching it. Run after every `npm install`:
//   npm install && npm run lock:complete
import { readFileSync, writeFileSync } from "node:fs";

interface LockPackage {
  version?: string;
  optionalDependencies?: Record<string, string>;
  [key: string]: unknown;
}

const path = new URL("../package-lock.json", import.meta.url);
const lock = JSON.parse(readFileSync(path, "utf8")) as { packages: Record<string, LockPackage> };

/** Platform constraints read from a package name such as "buf-linux-armv7" or "linux-arm64-glibc". */
function platformOf(name: string): { os: string; cpu: string; libc?: string } | undefined {
  const match = /(darwin|linux|win32|freebsd)-(arm64|aarch64|x64|armv7|arm)(?:-(glibc|musl))?$/.exec(name);
  if (!match) return undefined;
  const cpu = match[2] === "aarch64" ? "arm64" : match[2] === "armv7" ? "arm" : match[2]!;
  return { os: match[1]!, cpu, ...(match[3] ? { libc: match[3] } : {}) };
}

const added: string[] = [];
for (const [location, pkg] of Object.entries(lock.packages)) {
  for (const [name, version] of Object.entries(pkg.optionalDependencies ?? {})) {
    const key = `node_modules/${name}`;
    if (lock.packages[key] !== undefined) continue;
    const platform = platformOf(name);
    if (!platform) throw new Error(`${location}: optional dependency ${name} is missing from the lock and names no platform`);
    lock.packages[key] = {
      version,
      cpu: [platform.cpu],
      dev: lock.packages[location]?.["dev"] === true ? true : undefined,
      ...(platform.libc ? { libc: [platform.libc] } : {}),
      optional: true,
      os: [platform.os],
    };
    added.push(`${name}@${version}`);
  }
}

const sorted: Record<string, LockPackage> = {};
for (const key of Object.keys(lock.packages).sort((a, b) => (a === "" ? -1 : b === "" ? 1 : a < b ? -1 : 1))) {
  sorted[key] = lock.packages[key]!;
}
lock.packages = sorted;
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
console.log(added.length ? `added to the lock: ${added.join(", ")}` : "the lock already lists every optional platform package");
