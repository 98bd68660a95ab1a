// `npm run trace`: every requirement of spec/protocol.md whose statement
// says MUST is either cited by a conformance case or listed, with a reason,
// in conformance/untestable.md. Fails (exit 1) naming each gap.
import { readFileSync } from "node:fs";
import { allCases } from "./cases/index.ts";

const root = new URL("..", import.meta.url);
const spec = readFileSync(new URL("spec/protocol.md", root), "utf8");
const untestableText = readFileSync(new URL("conformance/untestable.md", root), "utf8");

/** Requirement ids whose statement (the paragraph after the bold id) contains MUST. */
function mustIds(): string[] {
  const ids: string[] = [];
  const paragraphs = spec.split(/\n\s*\n/);
  for (const paragraph of paragraphs) {
    const match = /^\*\*\[([A-Z]+-\d+)\]\*\*/.exec(paragraph.trim());
    if (match && /\bMUST\b/.test(paragraph)) ids.push(match[1]!);
  }
  return ids;
}

/** Entries of untestable.md: "- [ID] reason". */
function untestable(): Map<string, string> {
  const entries = new Map<string, string>();
  for (const line of untestableText.split("\n")) {
    const match = /^- \[([A-Z]+-\d+)\]\s*(.*)$/.exec(line.trim());
    if (match) entries.set(match[1]!, match[2]!.trim());
  }
  return entries;
}

const must = mustIds();
const defined = new Set([...spec.matchAll(/^\*\*\[([A-Z]+-\d+)\]\*\*/gm)].map((m) => m[1]!));
const cited = new Map<string, string[]>();
for (const c of allCases) for (const id of c.requirements) cited.set(id, [...(cited.get(id) ?? []), c.name]);
const listed = untestable();

const problems: string[] = [];
for (const id of must) {
  if (!cited.has(id) && !listed.has(id)) problems.push(`[${id}] is a MUST, but no case cites it and conformance/untestable.md does not list it`);
}
for (const [id, reason] of listed) {
  if (!defined.has(id)) problems.push(`conformance/untestable.md lists [${id}], which the spec does not define`);
  if (reason.length < 10) problems.push(`conformance/untestable.md lists [${id}] without a reason`);
  if (cited.has(id)) problems.push(`[${id}] is cited by ${cited.get(id)!.join(", ")} but also listed as untestable`);
}
for (const id of cited.keys()) if (!defined.has(id)) problems.push(`a case cites [${id}], which the spec does not define`);

const covered = must.filter((id) => cited.has(id)).length;
console.log(`${must.length} MUST requirements: ${covered} cited by ${allCases.length} cases, ${must.filter((id) => listed.has(id)).length} listed as untestable with a reason.`);
if (problems.length > 0) {
  console.error(problems.join("\n"));
  process.exitCode = 1;
} else {
  console.log("Every MUST requirement is traced.");
}
