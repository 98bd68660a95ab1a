// `npm run bench:instructions`: CPU instructions per call, which unlike
// wall-clock time repeat from run to run on a shared machine. Bundles
// workload.ts with esbuild, runs it under `valgrind --tool=callgrind` twice
// per scenario with different call counts, and prints the difference in
// instructions divided by the difference in calls (start-up cancels out).
// Needs valgrind (apt-get install -y valgrind). Compare two commits by
// running it on each.
import { spawnSync } from "node:child_process";
import { build } from "esbuild";

const here = new URL(".", import.meta.url).pathname;
const bundle = `${here}../results/instructions-workload.mjs`;
await build({ entryPoints: [`${here}workload.ts`], outfile: bundle, bundle: true, platform: "node", format: "esm", target: "node20", logLevel: "warning" });

function instructions(calls: number, inFlight: number): number {
  const run = spawnSync("valgrind", ["--tool=callgrind", "--callgrind-out-file=/dev/null", process.execPath, bundle, String(calls), String(inFlight)], { encoding: "utf8" });
  if (run.error !== undefined) throw new Error(`valgrind: ${run.error.message} (apt-get install -y valgrind)`);
  const collected = /Collected : (\d+)/.exec(run.stderr);
  if (run.status !== 0 || collected === null) throw new Error(`the workload failed under valgrind:\n${run.stderr.slice(-2000)}`);
  return Number(collected[1]);
}

console.log("| In flight | calls (short, long run) | instructions per call |\n|---|---|---|");
for (const [inFlight, short, long] of [[100, 2_000, 12_000], [1, 1_000, 5_000]] as const) {
  const perCall = (instructions(long, inFlight) - instructions(short, inFlight)) / (long - short);
  console.log(`| ${inFlight} | ${short}, ${long} | ${Math.round(perCall).toLocaleString("en-US")} |`);
}
