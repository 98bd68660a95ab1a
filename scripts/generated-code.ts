// Where `buf generate` writes the code of each part of proto/: the schemas
// the package ships go to src/gen, the conformance service's to the suite,
// the examples' and the project's own test service's next to their users,
// so that nothing but the shipped schemas lands in src/.
import { execFileSync } from "node:child_process";
import { join } from "node:path";

/** One part of proto/ and the directory whose gen/ holds its code. */
export interface GeneratedPart {
  readonly proto: readonly string[];
  readonly base: string;
}

export const GENERATED_PARTS: readonly GeneratedPart[] = [
  { proto: ["proto/strata/v1", "proto/strata/admin", "proto/strata/reflection"], base: "src" },
  { proto: ["proto/strata/conformance"], base: "conformance" },
  { proto: ["proto/acme"], base: "examples" },
  { proto: ["proto/stratatest"], base: "test" },
];

/** Runs buf generate for every part, writing under `root/<base>/gen` (root: the repository, or a scratch copy). */
export function generateAll(repository: string, root: string): void {
  for (const part of GENERATED_PARTS) {
    const args = ["generate", ...part.proto.flatMap((p) => ["--path", p]), "-o", join(root, part.base)];
    execFileSync(join(repository, "node_modules/.bin/buf"), args, { cwd: repository, stdio: "inherit" });
  }
}
