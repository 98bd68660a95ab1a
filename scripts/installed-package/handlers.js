// The isolated service's handlers, loaded by a worker thread.
import { threadId } from "node:worker_threads";
import { defineIsolatedService } from "strata-rpc";
import { WorkService } from "./gen/scratch/v1/work_pb.js";

export default defineIsolatedService(WorkService, {
  sum(request) {
    let sum = 0n;
    for (let i = 1n; i <= BigInt(request.n); i++) sum += i;
    return { sum, threadId };
  },
});
