// Fails when src/gen differs from what `buf generate` produces from proto/:
// the generated schema must always match the .proto files.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const out = mkdtempSync(join(tmpdir(), "strata-gen-"));

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

try {
  const template = readFileSync(join(root, "buf.gen.yaml"), "utf8").replace(/out: src\/gen/, `out: ${join(out, "gen")}`);
  writeFileSync(join(out, "buf.gen.yaml"), template);
  execFileSync(join(root, "node_modules/.bin/buf"), ["generate", "--template", join(out, "buf.gen.yaml")], { cwd: root, stdio: "inherit" });
  const fresh = files(join(out, "gen")).map((f) => relative(join(out, "gen"), f)).sort();
  const committed = files(join(root, "src/gen")).map((f) => relative(join(root, "src/gen"), f)).sort();
  const problems: string[] = [];
  for (const name of new Set([...fresh, ...committed])) {
    if (!fresh.includes(name)) problems.push(`src/gen/${name} has no .proto source any more`);
    else if (!committed.includes(name)) problems.push(`src/gen/${name} is missing`);
    else if (readFileSync(join(out, "gen", name), "utf8") !== readFileSync(join(root, "src/gen", name), "utf8")) {
      problems.push(`src/gen/${name} is out of date`);
    }
  }
  if (problems.length > 0) {
    console.error(`${problems.join("\n")}\nRun \`npm run generate\` and commit the result.`);
    process.exitCode = 1;
  } else {
    console.log(`src/gen matches proto/ (${fresh.length} file${fresh.length === 1 ? "" : "s"})`);
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}
