// Mutants for the conformance suite's slots cases (round 2); see mutants.ts.
import type { Mutant } from "./mutating-proxy.ts";

export const slotsMutants: Mutant[] = [];
