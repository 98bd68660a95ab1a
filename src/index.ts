// strata-rpc: the package root. Re-exports the layers that exist so far.
export * from "./wire/index.ts";
