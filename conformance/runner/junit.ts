// JUnit XML for CI systems that display test results.
import type { CaseResult } from "./run-cases.ts";

function escape(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c]!);
}

/** One testsuite per spec section, one testcase per case. */
export function junitReport(results: CaseResult[]): string {
  const sections = new Map<string, CaseResult[]>();
  for (const r of results) sections.set(r.case.section, [...(sections.get(r.case.section) ?? []), r]);
  const suites = [...sections].map(([section, list]) => {
    const cases = list.map((r) => {
      const name = `${r.case.name} [${r.case.requirements.join("] [")}]`;
      const body =
        r.status === "fail"
          ? `<failure message="${escape(`expected ${r.expected}`)}">${escape(`Expected: ${r.expected}\nActual: ${r.actual}`)}</failure>`
          : r.status === "skip"
            ? `<skipped message="${escape(r.reason ?? "")}"/>`
            : "";
      return `    <testcase classname="${escape(section)}" name="${escape(name)}" time="${(r.durationMs / 1000).toFixed(3)}">${body}</testcase>`;
    });
    const failures = list.filter((r) => r.status === "fail").length;
    const skipped = list.filter((r) => r.status === "skip").length;
    return `  <testsuite name="${escape(section)}" tests="${list.length}" failures="${failures}" skipped="${skipped}">\n${cases.join("\n")}\n  </testsuite>`;
  });
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="strata-conformance">\n${suites.join("\n")}\n</testsuites>\n`;
}
