// Mutants for the conformance suite's drain cases (round 2); see mutants.ts.
import type { Mutant } from "./mutating-proxy.ts";

export const drainMutants: Mutant[] = [];
