// `npm run generate`: regenerates every gen/ directory from proto/.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { GENERATED_PARTS, generateAll } from "./generated-code.ts";

const root = new URL("..", import.meta.url).pathname;
for (const part of GENERATED_PARTS) rmSync(join(root, part.base, "gen"), { recursive: true, force: true });
generateAll(root, root);
