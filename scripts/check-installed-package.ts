// `npm run check:package`: packs the package as `npm publish` would, checks
// its types resolve (arethetypeswrong), installs the tarball into a scratch
// project made on the fly outside the repository, and runs a user's code
// there — plain JavaScript on Node, Bun and Deno, a TypeScript consumer
// type-checked with --module nodenext --strict, and an esbuild bundle with
// an isolated service run from a directory without node_modules. The
// scratch project sees the package only through its tarball; the tools it
// runs (buf, protoc-gen-es, tsc, esbuild, bun, deno) are the repository's.
// Then the strata command from the install, as `npx strata`: list, describe,
// call, bench and stats against the greeter example written in plain
// JavaScript, and the conformance suite against the repository's reference
// server (the server under test, like one in any other language), with a
// failure's replay line run exactly as printed.
// Each step prints what it did; the first failure ends the run with exit 1.
import { execFileSync, spawn, spawnSync, type ExecFileSyncOptions } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const fixtures = join(root, "scripts/installed-package");
const tool = (name: string) => join(root, "node_modules/.bin", name);
const work = mkdtempSync(join(tmpdir(), "strata-package-"));
const keep = process.argv.includes("--keep");

/** Runs `npx strata ...args` in the scratch project; throws unless it exits with `expected` and its output has each of `shows`. */
function strata(project: string, title: string, args: string[], expected: number, shows: Array<string | RegExp>): string {
  process.stdout.write(`\n--- ${title}\n$ npx strata ${args.map((a) => (/^[\w./:@=,-]+$/.test(a) ? a : `'${a}'`)).join(" ")}\n`);
  const run = spawnSync("npx", ["strata", ...args], { cwd: project, encoding: "utf8", timeout: 180_000 });
  const output = `${run.stdout}${run.stderr}`;
  process.stdout.write(output);
  if (run.status !== expected) throw new Error(`${title}: npx strata exited ${run.status ?? run.signal}, expected ${expected}`);
  for (const wanted of shows) {
    if (typeof wanted === "string" ? !output.includes(wanted) : !wanted.test(output)) throw new Error(`${title}: the output lacks ${String(wanted)}`);
  }
  return output;
}

/** Starts `args` in `cwd` and resolves with the child and the address in its first stdout line. */
function startServer(command: string, args: string[], cwd: string): Promise<{ address: string; stop(): void }> {
  const child = spawn(command, args, { cwd, stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let text = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${command} ${args.join(" ")} printed no address within 30 s`));
    }, 30_000);
    child.on("exit", (code) => reject(new Error(`${command} ${args.join(" ")} exited (${code}) before it listened`)));
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      text += chunk;
      const match = /listening on (\S+)/.exec(text);
      if (match === null) return;
      clearTimeout(timer);
      resolve({ address: match[1]!, stop: () => child.kill("SIGTERM") });
    });
  });
}

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
  // The greeter example's schema, as a user keeps their own .proto files.
  cpSync(join(root, "proto/acme/greet"), join(project, "proto/acme/greet"), { recursive: true });
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "scratch", private: true, type: "module" }, null, 2));
  writeFileSync(
    join(project, "buf.gen.yaml"),
    // The README's buf.gen.yaml, word for word; protoc-gen-es is found on PATH as `npx buf generate` finds it.
    "version: v2\ninputs:\n  - directory: proto\nplugins:\n  - local: protoc-gen-es\n    out: gen\n    opt:\n      - target=js+dts\n      - import_extension=js\n",
  );
  step("install the tarball (and the @bufbuild/protobuf peer)", "npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", tarball, "@types/node@20"], { cwd: project });
  step("generate the project's schema (buf, protoc-gen-es)", tool("buf"), ["generate"], { cwd: project, env: { ...process.env, PATH: `${join(root, "node_modules/.bin")}:${process.env["PATH"]}` } });

  step("plain JavaScript on Node", "node", ["smoke.js"], { cwd: project });
  step("plain JavaScript on Bun", tool("bun"), ["smoke.js"], { cwd: project });
  step("plain JavaScript on Deno (node_modules)", tool("deno"), ["run", "-A", "smoke.js"], { cwd: project });
  step("the cluster client and the registry entries on Node", "node", ["cluster.js"], { cwd: project });
  step("the cluster client and the registry entries on Bun", tool("bun"), ["cluster.js"], { cwd: project });

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

  const greeter = await startServer("node", ["greeter-server.js"], project);
  try {
    const at = greeter.address;
    const method = "acme.greet.v1.GreeterService/SayHello";
    strata(project, "strata list: the greeter's services, from its reflection service", ["list", at, "-l"], 0, ["acme.greet.v1.GreeterService", "SayHello(acme.greet.v1.SayHelloRequest) returns (acme.greet.v1.SayHelloResponse)"]);
    strata(project, "strata describe", ["describe", at, "acme.greet.v1.SayHelloRequest"], 0, ["message acme.greet.v1.SayHelloRequest {"]);
    strata(project, "strata call", ["call", at, method, "-d", '{"name":"scratch"}'], 0, ['"message": "Hello, scratch!"']);
    strata(project, "strata call with an application error: exit 64 + 1", ["call", at, method, "-d", '{"name":""}'], 65, ["a name is required", "processed: yes"]);
    strata(project, "strata call from .proto files (buf)", ["call", at, method, "-d", '{"name":"proto"}', "--schema", "proto"], 0, ['"message": "Hello, proto!"']);
    const report = join(work, "bench.html");
    const bench = strata(project, "strata bench --json --html", ["bench", at, method, "-d", '{"name":"load"}', "-n", "3000", "-c", "32", "--connections", "2", "--json", "--html", report], 0, ['"calls": 3000', '"ok": 3000']);
    const summary = JSON.parse(bench.slice(bench.indexOf("{"), bench.lastIndexOf("}") + 1)) as { callsPerSecond: number; latencyMs: { p99: number } };
    if (!(summary.callsPerSecond > 0) || !readFileSync(report, "utf8").includes('<svg id="latency-histogram"')) throw new Error("strata bench: no throughput or no histogram in the report");
    strata(project, "strata stats: the admin service's counters", ["stats", at], 0, [/acme\.greet\.v1\.GreeterService\/SayHello +\d+/]);
  } finally {
    greeter.stop();
  }

  const tsx = tool("tsx");
  const reference = await startServer(tsx, [join(root, "conformance/reference/server.ts"), "127.0.0.1:0"], root);
  try {
    strata(project, "strata conformance against a running server (the reference server)", ["conformance", "server", "--target", reference.address], 0, [/\d+ passed, 0 failed/]);
  } finally {
    reference.stop();
  }
  const mutant = "reflection-imports-last";
  const failing = strata(project, `strata conformance finds the mutant ${mutant} (spawn mode) and prints a replay line`, ["conformance", "server", "--run", "reflection/*", "--", tsx, join(root, "conformance/mutants/server.ts"), mutant, "--spawn"], 1, [/[1-9]\d* failed/]);
  const replay = failing.split("\n").map((line) => /^\s*Replay:\s+(.*)$/.exec(line)?.[1]).find((line) => line?.startsWith("npx strata conformance server "));
  if (replay === undefined) throw new Error("the failure report has no replay line starting with npx strata conformance server");
  const replayed = step("the replay line, run as printed from the install", "sh", ["-c", `${replay}; echo "exit $?"`], { cwd: project });
  if (!/1 failed/.test(replayed) || !/exit 1$/m.test(replayed)) throw new Error("the replay line did not rerun the failing case");

  // As after `npm install --omit=optional`: the library still loads, and the optional features say what to install.
  rmSync(join(project, "node_modules/commander"), { recursive: true, force: true });
  rmSync(join(project, "node_modules/fast-check"), { recursive: true, force: true });
  rmSync(join(project, "node_modules/redis"), { recursive: true, force: true });
  rmSync(join(project, "node_modules/@redis"), { recursive: true, force: true });
  step("without the optional dependencies, plain JavaScript on Node still runs", "node", ["smoke.js"], { cwd: project });
  step("without redis, strata-rpc/redis says what to install", "node", ["cluster.js", "without-redis"], { cwd: project });
  strata(project, "without commander, strata says what to install", ["list", "127.0.0.1:1"], 2, ["npm install commander"]);
  console.log(`\ninstalled package: every check passed (${tarball.split("/").pop()})`);
} catch (error) {
  console.error(`\ninstalled package: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  if (keep) console.log(`scratch project kept in ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
