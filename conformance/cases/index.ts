// Every conformance case, in report order.
import type { ConformanceCase } from "../runner/case.ts";
import { framingCases } from "./framing.ts";
import { helloCases } from "./hello.ts";
import { idCases } from "./ids.ts";
import { pingCases } from "./ping.ts";
import { prefaceCases } from "./preface.ts";

export const allCases: ConformanceCase[] = [...prefaceCases, ...helloCases, ...framingCases, ...idCases, ...pingCases];
