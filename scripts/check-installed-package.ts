// `npm run check:package`: packs the package as `npm publish` would, checks
// its types resolve (arethetypeswrong), installs the tarball into a scratch
// project made on the fly outside the repository, and runs a user's code
// there — plain JavaScript on Node, Bun and Deno, a TypeScript consumer
// type-checked with --module nodenext --strict, and an esbuild bundle with
// an isolated service run from a directory without node_modules. The
// scratch project sees the package only through its tarball; the tools it
// runs (buf, protoc-gen-es, tsc, esbuild, bun, deno) are the repository's.
// Each step prints what it did; the first failure ends the run with exit 1.
import { execFileSync, type ExecFileSyncOptions } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const fixtures = join(root, "scripts/installed-package");
const tool = (name: string) => join(root, "node_modules/.bin", name);
const work = mkdtempSync(join(tmpdir(), "strata-package-"));
const keep = process.argv.includes("--keep");

function step(title: string, command: string, args: string[], options: ExecFileSyncOptions = {}): string {
  process.stdout.write(`\n--- ${title}\n$ ${[command, ...args].join(" ")}\n`);
  try {
    const output = execFileSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 180_000, ...options }) as string;
    process.stdout.write(output);
    return output;
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string; message: string };
    process.stdout.write(`${failed.stdout ?? ""}${failed.stderr ?? ""}`);
    throw new Error(`${title} failed: ${failed.message.split("\n")[0]}`);
  }
}

try {
  step("pack", "npm", ["pack", "--silent", "--pack-destination", work], { cwd: root });
  const tarball = join(work, readdirSync(work).find((f) => f.endsWith(".tgz"))!);
  const listing = step("tarball contents", "tar", ["-tzf", tarball]).split("\n").filter(Boolean);
  const stray = listing.filter((f) => /^package\/(test|bench|scripts|examples|\.ci|conformance\/(mutants|reference)|src|proto\/(acme|stratatest))\//.test(f) || f.endsWith(".ts") && !f.endsWith(".d.ts"));
  if (stray.length > 0) throw new Error(`the tarball ships what users do not need:\n${stray.join("\n")}`);
  if (!listing.includes("package/LICENSE")) throw new Error("the tarball has no LICENSE");
  console.log(`${listing.length} files, none of them tests, benchmarks, scripts, examples or TypeScript sources`);

  step("types resolve for every entry point (arethetypeswrong, ESM only)", tool("attw"), [tarball, "--profile", "esm-only", "--format", "ascii"]);

  const project = join(work, "project");
  mkdirSync(project);
  cpSync(fixtures, project, { recursive: true });
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "scratch", private: true, type: "module" }, null, 2));
  writeFileSync(
    join(project, "buf.gen.yaml"),
    `version: v2\ninputs:\n  - directory: proto\nplugins:\n  - local: ["node", ${JSON.stringify(join(root, "node_modules/@bufbuild/protoc-gen-es/bin/protoc-gen-es"))}]\n    out: gen\n    opt:\n      - target=js+dts\n      - import_extension=js\n`,
  );
  step("install the tarball (and the @bufbuild/protobuf peer)", "npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", tarball, "@types/node@20"], { cwd: project });
  step("generate the project's schema (buf, protoc-gen-es)", tool("buf"), ["generate"], { cwd: project });

  step("plain JavaScript on Node", "node", ["smoke.js"], { cwd: project });
  step("plain JavaScript on Bun", tool("bun"), ["smoke.js"], { cwd: project });
  step("plain JavaScript on Deno (node_modules)", tool("deno"), ["run", "-A", "smoke.js"], { cwd: project });

  const peer = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { peerDependencies: Record<string, string> }).peerDependencies["@bufbuild/protobuf"]!;
  const lowest = peer.replace(/^\^/, "");
  step(`the lowest @bufbuild/protobuf the peer range allows (${lowest})`, "npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", `@bufbuild/protobuf@${lowest}`], { cwd: project });
  step(`plain JavaScript on Node with @bufbuild/protobuf ${lowest}`, "node", ["smoke.js"], { cwd: project });
  step("back to the newest @bufbuild/protobuf", "npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "@bufbuild/protobuf@2"], { cwd: project });

  step("TypeScript consumer: tsc --module nodenext --strict", tool("tsc"), ["--module", "nodenext", "--moduleResolution", "nodenext", "--target", "es2022", "--strict", "--noEmit", "--types", "node", "consumer.ts"], { cwd: project });

  const bundle = join(work, "bundle");
  step("esbuild bundle: the server, the isolation worker entry, the handler module", tool("esbuild"), [
    "server=bundled-server.js",
    "worker-entry=strata-rpc/isolation-worker",
    "handlers=handlers.js",
    "--bundle",
    "--platform=node",
    "--format=esm",
    `--outdir=${bundle}`,
    "--log-level=warning",
  ], { cwd: project });
  step("run the bundle where there is no node_modules", "node", ["server.js"], { cwd: bundle });
  console.log(`\ninstalled package: every check passed (${tarball.split("/").pop()})`);
} catch (error) {
  console.error(`\ninstalled package: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  if (keep) console.log(`scratch project kept in ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
