// Section 8.3: a request refused for want of credentials was not processed
// [STATUS-13], through ConformanceService.Authenticated [CONF-9].
import { DispatchCode } from "../../src/wire/index.ts";
import type { ConformanceCase } from "../runner/case.ts";
import { expect } from "../runner/case-outcome.ts";
import { expectDispatch } from "../runner/expectations.ts";

const section = "8 Status";
const utf8 = new TextEncoder();

/** The `authorization` entry of a request. */
function authorization(value: string) {
  return [{ key: "authorization", value: utf8.encode(value) }];
}

export const authCases: ConformanceCase[] = [
  {
    name: "status/unauthenticated-not-run",
    section,
    requirements: ["STATUS-13", "CONF-9", "STATUS-6"],
    title: "Calls without the bearer token, with a wrong one or another scheme are answered UNAUTHENTICATED and never run; the token's call runs",
    usesConformanceService: true,
    async run(ctx) {
      const peer = await ctx.connect();
      const base = ctx.uniqueTag("auth");
      const refused = [
        { tag: `${base}-none`, metadata: [] },
        { tag: `${base}-wrong`, metadata: authorization("Bearer not-the-token") },
        { tag: `${base}-basic`, metadata: authorization("Basic conformance-token") },
      ];
      let id = 0;
      for (const { tag, metadata } of refused) {
        ctx.sendCall(peer, "authenticated", { tag }, { id: ++id, metadata });
        expectDispatch(await ctx.response(peer, id), DispatchCode.UNAUTHENTICATED, "STATUS-13");
      }
      const accepted = `${base}-token`;
      ctx.sendCall(peer, "authenticated", { tag: accepted }, { id: ++id, metadata: authorization("Bearer conformance-token") });
      expectDispatch(await ctx.response(peer, id), DispatchCode.OK, "CONF-9");
      // The accepted call has logged; the refused ones must never have [STATUS-13] [STATUS-6].
      const entries = await ctx.pollLog(`auth:${base}`, (e) => e.includes(`auth:${accepted}`));
      expect(entries.join() === `auth:${accepted}`, `only auth:${accepted} in the log`, entries.join() || "nothing", "STATUS-13");
    },
  },
];
