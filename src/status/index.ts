// strata-rpc status: the three status layers and the error type callers see.
export { dispatchCodeByName, dispatchCodeName, dispatchProcessed, TransportCode, type Layer, type Processed } from "./codes.ts";
export { RpcError, type RpcErrorInit } from "./rpc-error.ts";
export { ApplicationCode, errorDetail, ErrorDetailSchema, ErrorDetailsSchema, findDetails, type ErrorDetail, type ErrorDetails } from "./error-details.ts";
