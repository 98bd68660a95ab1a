// The report a person reads: results grouped by spec section and
// requirement, Expected / Actual for each failure, and a command that
// replays it. Also JSON for machines.

import type { CaseResult } from "./run-cases.ts";

/** One line of progress while the suite runs. */
export function progressLine(result: CaseResult, index: number, total: number): string {
  const mark = result.status === "pass" ? "pass" : result.status === "fail" ? "FAIL" : "skip";
  return `[${String(index + 1).padStart(String(total).length)}/${total}] ${mark} ${result.case.name} (${result.durationMs.toFixed(0)} ms)`;
}

/** The terminal report. `replay` builds the command that reruns one case. */
export function formatReport(results: CaseResult[], replay: (result: CaseResult) => string): string {
  const lines: string[] = [];
  const sections = new Map<string, CaseResult[]>();
  for (const result of results) {
    const list = sections.get(result.case.section) ?? [];
    list.push(result);
    sections.set(result.case.section, list);
  }
  const sectionNumber = (s: string) => Number.parseFloat(s) || 0;
  for (const [section, list] of [...sections].sort((a, b) => sectionNumber(a[0]) - sectionNumber(b[0]))) {
    lines.push("", `§${section}`);
    for (const result of list) {
      const mark = result.status === "pass" ? "  pass" : result.status === "fail" ? "  FAIL" : "  skip";
      lines.push(`${mark}  [${result.case.requirements.join("] [")}] ${result.case.title}`);
      lines.push(`        ${result.case.name}`);
      if (result.status === "skip") lines.push(`        skipped: ${result.reason}`);
      if (result.status === "fail") {
        lines.push(`        ${violation(result)}`);
        lines.push(`        Expected: ${result.expected}`);
        lines.push(`        Actual:   ${result.actual?.replace(/\n/g, "\n                  ")}`);
        lines.push(`        Replay:   ${replay(result)}`);
        if (result.trace) lines.push("        Trace:", result.trace.replace(/^/gm, "          "));
      }
    }
  }
  const count = (status: CaseResult["status"]) => results.filter((r) => r.status === status).length;
  const failedIds = [...new Set(results.filter((r) => r.status === "fail").flatMap((r) => (r.failedRequirement ? [r.failedRequirement] : r.case.requirements)))];
  lines.push("");
  if (failedIds.length > 0) lines.push(`Requirements with failures: ${failedIds.map((id) => `[${id}]`).join(" ")} (see spec/protocol.md, Appendix A)`);
  lines.push(`${count("pass")} passed, ${count("fail")} failed, ${count("skip")} skipped`);
  return lines.join("\n");
}

/** Which requirement a failure violates: the one its check named, else the case's only one, else one of the case's. */
function violation(result: CaseResult): string {
  if (result.failedRequirement) return `violates [${result.failedRequirement}]`;
  const ids = result.case.requirements;
  return ids.length === 1 ? `violates [${ids[0]}]` : `violates one of [${ids.join("] [")}]`;
}

/** The JSON report: one object per case. */
export function jsonReport(results: CaseResult[], meta: Record<string, unknown>): string {
  return JSON.stringify(
    {
      ...meta,
      results: results.map((r) => ({
        name: r.case.name,
        section: r.case.section,
        requirements: r.case.requirements,
        title: r.case.title,
        status: r.status,
        durationMs: Math.round(r.durationMs),
        ...(r.reason ? { reason: r.reason } : {}),
        ...(r.status === "fail" ? { expected: r.expected, actual: r.actual, failedRequirement: r.failedRequirement ?? null, path: r.path ?? null } : {}),
      })),
    },
    null,
    2,
  );
}
