// Mutants for the connection-age case [DRAIN-18]: a server that never
// drains for age (the bound ignored), and one whose age drain cuts off the
// calls in progress instead of letting them finish. Both are deviations
// inside the server, through its options over the spawn settings.
import type { Mutant } from "./mutating-proxy.ts";

const CASE = "drain/connection-age";

export const connectionAgeMutants: Mutant[] = [
  {
    name: "connection-age-ignored",
    description: "ignores the maximum connection age: busy connections live on, and clients never move to servers added later [DRAIN-18]",
    caughtBy: [CASE],
    serverOptions: () => ({ maxConnectionAgeMs: Infinity }),
  },
  {
    name: "connection-age-no-grace",
    description: "drains a connection at its maximum age with no grace period, so the call in progress is cut off unanswered [DRAIN-18] [DRAIN-2]",
    caughtBy: [CASE],
    serverOptions: () => ({ maxConnectionAgeGraceMs: 0 }),
  },
];
