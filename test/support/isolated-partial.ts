// Handlers for only one method of stratatest.v1.TestService, loaded by
// the worker pool in test/handler-isolation.test.ts: the others must be
// UNKNOWN_METHOD.
import { defineIsolatedService } from "../../src/node.ts";
import { TestService } from "../gen/stratatest/v1/testing_pb.ts";

export default defineIsolatedService(TestService, {
  echo: (request) => ({ text: request.text }),
});
