// Fails when a gen/ directory differs from what `buf generate` produces from
// proto/: the generated schemas must always match the .proto files.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { GENERATED_PARTS, generateAll } from "./generated-code.ts";

const root = new URL("..", import.meta.url).pathname;
const out = mkdtempSync(join(tmpdir(), "strata-gen-"));

function files(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

try {
  generateAll(root, out);
  const problems: string[] = [];
  let checked = 0;
  for (const { base } of GENERATED_PARTS) {
    const dir = join(base, "gen");
    const fresh = files(join(out, dir)).map((f) => relative(join(out, dir), f));
    const committed = files(join(root, dir)).map((f) => relative(join(root, dir), f));
    for (const name of new Set([...fresh, ...committed])) {
      if (!fresh.includes(name)) problems.push(`${dir}/${name} has no .proto source any more`);
      else if (!committed.includes(name)) problems.push(`${dir}/${name} is missing`);
      else if (readFileSync(join(out, dir, name), "utf8") !== readFileSync(join(root, dir, name), "utf8")) {
        problems.push(`${dir}/${name} is out of date`);
      }
    }
    checked += fresh.length;
  }
  if (problems.length > 0) {
    console.error(`${problems.join("\n")}\nRun \`npm run generate\` and commit the result.`);
    process.exitCode = 1;
  } else {
    console.log(`${GENERATED_PARTS.map((p) => `${p.base}/gen`).join(", ")} match proto/ (${checked} files)`);
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}
