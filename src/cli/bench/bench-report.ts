// What `strata bench` prints: a live progress line, a summary with
// throughput, percentiles, a latency histogram and errors by layer, the same
// as JSON, and a self-contained HTML page with both charts as inline SVG.
import type { LoadResult } from "./load-run.ts";

/** The numbers of a finished run, as --json prints them. */
export interface BenchSummary {
  target: string;
  method: string;
  connections: number;
  concurrency: number;
  calls: number;
  ok: number;
  errors: Record<string, number>;
  elapsedMs: number;
  callsPerSecond: number;
  latencyMs: { min: number; mean: number; p50: number; p90: number; p99: number; max: number };
  histogram: Array<{ fromMs: number; toMs: number; count: number }>;
  perSecond: number[];
}

/** The summary of `result` [STATUS-1]. */
export function summarize(result: LoadResult, target: string, method: string, connections: number, concurrency: number): BenchSummary {
  const h = result.latency;
  return {
    target,
    method,
    connections,
    concurrency,
    calls: h.count,
    ok: result.ok,
    errors: Object.fromEntries(result.errors),
    elapsedMs: result.elapsedMs,
    callsPerSecond: h.count / (result.elapsedMs / 1000),
    latencyMs: { min: h.count === 0 ? 0 : h.minMs, mean: h.count === 0 ? 0 : h.sumMs / h.count, p50: h.quantile(0.5), p90: h.quantile(0.9), p99: h.quantile(0.99), max: h.maxMs },
    histogram: h.bins(20),
    perSecond: result.perSecond,
  };
}

/** One line of progress: seconds, calls, rate, errors, p99 so far. */
export function progressLine(result: LoadResult): string {
  const seconds = result.elapsedMs / 1000;
  const errors = [...result.errors.values()].reduce((a, b) => a + b, 0);
  return `${seconds.toFixed(0)}s  ${result.latency.count} calls  ${(result.latency.count / Math.max(seconds, 0.001)).toFixed(0)}/s  ${errors} errors  p99 ${result.latency.quantile(0.99).toFixed(2)} ms`;
}

const ms = (value: number) => `${value < 10 ? value.toFixed(3) : value.toFixed(1)} ms`;

/** The summary as text, ghz-like. */
export function formatSummary(s: BenchSummary): string {
  const peak = Math.max(1, ...s.histogram.map((b) => b.count));
  const lines = [
    `Summary: ${s.method} at ${s.target}, ${s.connections} connection${s.connections === 1 ? "" : "s"}, ${s.concurrency} in flight`,
    `  calls:      ${s.calls} in ${(s.elapsedMs / 1000).toFixed(2)} s (${s.ok} ok)`,
    `  throughput: ${s.callsPerSecond.toFixed(0)} calls/s`,
    `  latency:    min ${ms(s.latencyMs.min)}  mean ${ms(s.latencyMs.mean)}  p50 ${ms(s.latencyMs.p50)}  p90 ${ms(s.latencyMs.p90)}  p99 ${ms(s.latencyMs.p99)}  max ${ms(s.latencyMs.max)}`,
    "",
    "Latency histogram:",
    ...s.histogram.map((b) => `  ${ms(b.toMs).padStart(11)} [${String(b.count).padStart(8)}] ${"∎".repeat(Math.round((b.count / peak) * 40))}`),
  ];
  const errors = Object.entries(s.errors);
  lines.push("", errors.length === 0 ? "Errors: none" : "Errors by layer and code:");
  for (const [key, count] of errors.sort((a, b) => b[1] - a[1])) lines.push(`  ${key}: ${count}`);
  return lines.join("\n");
}

const escape = (text: string) => text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);

/** Bars of `values` as an SVG chart with labels under each bar. */
function barChart(id: string, title: string, values: number[], labels: string[]): string {
  const width = 720;
  const height = 240;
  const peak = Math.max(1, ...values);
  const barWidth = width / Math.max(1, values.length);
  const bars = values
    .map((v, i) => {
      const h = (v / peak) * (height - 40);
      return `<rect class="bar" x="${(i * barWidth + 1).toFixed(1)}" y="${(height - 20 - h).toFixed(1)}" width="${Math.max(1, barWidth - 2).toFixed(1)}" height="${h.toFixed(1)}" data-value="${v}"><title>${escape(labels[i]!)}: ${v}</title></rect>`;
    })
    .join("");
  const ticks = labels.map((l, i) => (i % Math.ceil(labels.length / 8) === 0 ? `<text x="${(i * barWidth).toFixed(1)}" y="${height - 4}">${escape(l)}</text>` : "")).join("");
  return `<figure><figcaption>${escape(title)}</figcaption><svg id="${id}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escape(title)}">${bars}${ticks}</svg></figure>`;
}

/** A self-contained HTML report: the summary, the latency histogram and calls per second as charts. */
export function htmlReport(s: BenchSummary): string {
  const histogram = barChart("latency-histogram", "Latency histogram (calls per latency range)", s.histogram.map((b) => b.count), s.histogram.map((b) => ms(b.toMs)));
  const throughput = barChart("throughput", "Calls answered per second", s.perSecond, s.perSecond.map((_, i) => `${i + 1}s`));
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>strata bench: ${escape(s.method)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;color:#222}pre{background:#f5f5f5;padding:1em}.bar{fill:#3b6ea5}svg text{font-size:11px;fill:#555}figure{margin:1.5em 0}</style></head>
<body><h1>strata bench: ${escape(s.method)}</h1>
<pre id="summary">${escape(formatSummary(s))}</pre>
${histogram}
${throughput}
<script type="application/json" id="data">${JSON.stringify(s).replace(/</g, "\\u003c")}</script>
</body></html>
`;
}
