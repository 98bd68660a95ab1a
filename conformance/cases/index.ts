// Every conformance case, in report order.
import type { ConformanceCase } from "../runner/case.ts";
import { adminCases } from "./admin.ts";
import { authCases } from "./auth.ts";
import { callCases } from "./calls.ts";
import { compressionCases } from "./compression.ts";
import { connectionAgeCases } from "./connection-age.ts";
import { deadlineCases } from "./deadlines.ts";
import { drainCases } from "./drain.ts";
import { keyedDrainCases } from "./drain-keyed.ts";
import { framingCases } from "./framing.ts";
import { helloCases } from "./hello.ts";
import { idCases } from "./ids.ts";
import { keyCases } from "./keys.ts";
import { keyFailurePathCases } from "./keys-failure-paths.ts";
import { limitCases } from "./limits.ts";
import { metadataCases } from "./metadata.ts";
import { methodRefCases } from "./method-refs.ts";
import { pingCases } from "./ping.ts";
import { prefaceCases } from "./preface.ts";
import { reflectionCases } from "./reflection.ts";
import { sessionCases } from "./sessions.ts";
import { statusCases } from "./status.ts";
import { tlsCases } from "./tls.ts";
import { webSocketCases } from "./websocket.ts";

export const allCases: ConformanceCase[] = [
  ...prefaceCases,
  ...helloCases,
  ...framingCases,
  ...idCases,
  ...callCases,
  ...methodRefCases,
  ...sessionCases,
  ...statusCases,
  ...authCases,
  ...deadlineCases,
  ...pingCases,
  ...drainCases,
  ...connectionAgeCases,
  ...metadataCases,
  ...compressionCases,
  ...limitCases,
  ...keyCases,
  ...keyFailurePathCases,
  // Section 11's cases that need keyed dispatch: here, after section 15, where they have always run.
  ...keyedDrainCases,
  ...adminCases,
  ...reflectionCases,
  ...webSocketCases,
  ...tlsCases,
];
