// Architecture rules that keep src/ portable: src/wire imports nothing from
// the layers above it, and no core file names a runtime (only the files
// tsconfig.json excludes from the core may: the TCP transport and the
// worker pool). See ../shared/STYLE.md "Layout that shows the architecture".
// Neither src/ nor the conformance suite has an import cycle.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const test = suite("layering");
const root = new URL("..", import.meta.url).pathname;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith(".ts") ? [path] : [];
  });
}

function imports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/(?:import|export)[^'"]*?from\s*["']([^"']+)["']/g)].map((m) => m[1]!);
}

test("src/wire imports only itself, the generated schema and @bufbuild/protobuf", () => {
  for (const file of sourceFiles(join(root, "src/wire"))) {
    for (const spec of imports(file)) {
      const ok = spec.startsWith("./") || spec.startsWith("../gen/") || spec.startsWith("@bufbuild/protobuf");
      assert.ok(ok, `${relative(root, file)} imports ${spec}`);
    }
  }
});

test("relative imports carry an explicit .ts extension (Deno needs it)", () => {
  for (const file of sourceFiles(join(root, "src"))) {
    for (const spec of imports(file)) {
      if (spec.startsWith(".")) assert.ok(spec.endsWith(".ts"), `${relative(root, file)} imports ${spec}`);
    }
  }
});

/** The runtime-specific files: those tsconfig.json keeps out of the core's type-check, loaded only when used. */
function runtimeSpecificFiles(): Set<string> {
  const text = readFileSync(join(root, "tsconfig.json"), "utf8").replace(/^\s*\/\/.*$/gm, "");
  const excluded = (JSON.parse(text) as { exclude: string[] }).exclude;
  return new Set(excluded.map((path) => join(root, path)));
}

test("no core file names a runtime: node:*, Deno, Bun or WebSocket (the files tsconfig.json excludes may)", () => {
  const exempt = runtimeSpecificFiles();
  assert.ok(exempt.has(join(root, "src/transport/tcp.ts")), "tsconfig.json excludes the TCP transport");
  for (const file of sourceFiles(join(root, "src"))) {
    if ([...exempt].some((path) => file === path || file.startsWith(`${path}/`))) continue;
    const text = readFileSync(file, "utf8").replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, "");
    for (const word of [/["']node:/, /\bDeno\./, /\bBun\./, /\bWebSocket\b/]) {
      assert.not.ok(word.test(text), `${relative(root, file)} mentions ${word}`);
    }
  }
});

test("every timer in src/ and the reference server goes through src/util/timer.ts (runtimes end delays of 2^31 ms and more after 1 ms)", () => {
  const allowed = new Set([join(root, "src/util/timer.ts"), join(root, "src/util/deadline-timers.ts")]);
  for (const file of [...sourceFiles(join(root, "src")), ...sourceFiles(join(root, "conformance/reference"))]) {
    if (allowed.has(file)) continue;
    const text = readFileSync(file, "utf8").replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, "");
    assert.not.ok(/\bset(Timeout|Interval)\s*\(/.test(text), `${relative(root, file)} arms a timer itself; use setTimer or sleep from src/util/timer.ts`);
  }
});

/** An import cycle among `files` (type-only imports count: a cycle of types is still a tangle), as a path, or undefined. */
function findCycle(files: string[]): string[] | undefined {
  const inSet = new Set(files);
  const edges = new Map(files.map((file) => [file, imports(file).filter((spec) => spec.startsWith(".")).map((spec) => resolve(dirname(file), spec)).filter((to) => inSet.has(to))]));
  const state = new Map<string, "open" | "done">();
  const visit = (file: string, path: string[]): string[] | undefined => {
    if (state.get(file) === "done") return undefined;
    if (state.get(file) === "open") return [...path.slice(path.indexOf(file)), file];
    state.set(file, "open");
    for (const to of edges.get(file)!) {
      const cycle = visit(to, [...path, file]);
      if (cycle) return cycle;
    }
    state.set(file, "done");
    return undefined;
  };
  for (const file of files) {
    const cycle = visit(file, []);
    if (cycle) return cycle;
  }
  return undefined;
}

test("no import cycle in src/ or in the conformance suite", () => {
  for (const dir of ["src", "conformance"]) {
    const cycle = findCycle(sourceFiles(join(root, dir)));
    assert.is(cycle, undefined, `${dir}/ has an import cycle: ${cycle?.map((file) => relative(root, file)).join(" → ")}`);
  }
});


test("no module in src/ loads another by a computed import(): a bundler must be able to follow every one", () => {
  // The isolation worker imports the user's handler module by the URL it was given: that is the user's module, not ours.
  const userModuleLoader = join(root, "src/server/isolation/worker-entry.ts");
  for (const file of sourceFiles(join(root, "src"))) {
    const text = readFileSync(file, "utf8").replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, "");
    for (const call of text.matchAll(/\bimport\s*\(\s*([^)]*)\)/g)) {
      const literal = /^["'][^"']+["']$/.test(call[1]!.trim());
      if (!literal && file !== userModuleLoader) assert.unreachable(`${relative(root, file)} has import(${call[1]}), which a bundler cannot follow`);
    }
  }
});

test.run();
