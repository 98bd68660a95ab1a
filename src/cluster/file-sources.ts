// Endpoint sets kept in local files: a list an operator edits (watched for
// changes), and a cache of a registry's last set that a client starting
// while the registry is unreachable uses instead, saying so [CLUSTER-3].
// node:fs, which Node, Bun and Deno all provide.

import { readFile, rename, stat, writeFile } from "node:fs/promises";
import { setTimer, type Timer } from "../util/timer.ts";
import { endpoint, endpointRecord, parseEndpointRecord, type Endpoint, type EndpointInit } from "./endpoint.ts";
import type { EndpointListener, EndpointSource } from "./endpoint-source.ts";

/** Options of fileEndpoints. */
export interface FileEndpointsOptions {
  /** How often the file is checked for changes; 0: read once. Default 1000 ms. */
  pollMs?: number;
  /** Where problems with the file are reported. Default console.warn. */
  log?: (message: string) => void;
}

const defaultLog = (message: string) => console.warn(`strata cluster: ${message}`);

/** The endpoints in a JSON file's array (addresses or endpoint records), or why the file cannot be used [CLUSTER-1]. */
export function parseEndpointFile(text: string, log: (message: string) => void, path: string): Endpoint[] {
  const value: unknown = JSON.parse(text);
  if (!Array.isArray(value)) throw new TypeError(`${path} does not hold a JSON array of endpoints`);
  const endpoints: Endpoint[] = [];
  for (const item of value) {
    if (typeof item === "string" && item !== "") {
      endpoints.push(endpoint({ address: item }));
      continue;
    }
    const parsed = typeof item === "object" && item !== null && (item as { id?: unknown }).id === undefined
      ? tryEndpoint(item as EndpointInit)
      : parseEndpointRecord(JSON.stringify(item));
    if ("problem" in parsed) log(`${path}: endpoint ${JSON.stringify(item)} skipped: ${parsed.problem} [CLUSTER-1]`);
    else endpoints.push(parsed);
  }
  return endpoints;
}

function tryEndpoint(init: EndpointInit): Endpoint | { problem: string } {
  try {
    return endpoint(init);
  } catch (error) {
    return { problem: (error as Error).message };
  }
}

/**
 * Endpoints listed in a JSON file (an array of "host:port" strings or
 * endpoint records), reread when its modification time changes; a file
 * that cannot be read or parsed leaves the last set in use [CLUSTER-1] [CLUSTER-3].
 */
export function fileEndpoints(path: string, options: FileEndpointsOptions = {}): EndpointSource {
  const pollMs = options.pollMs ?? 1000;
  const log = options.log ?? defaultLog;
  let timer: Timer | undefined;
  let closed = false;
  let seen = "";
  const check = async (listener: EndpointListener) => {
    try {
      const info = await stat(path);
      const version = `${info.mtimeMs}:${info.size}`;
      if (version !== seen) {
        const set = parseEndpointFile(await readFile(path, "utf8"), log, path);
        seen = version;
        listener.endpoints(set);
      }
    } catch (error) {
      listener.unavailable(error as Error);
    }
    if (!closed && pollMs > 0) timer = setTimer(() => void check(listener), pollMs, { keepAlive: false });
  };
  return {
    description: `file ${path}`,
    watch(listener) {
      void check(listener);
    },
    close() {
      closed = true;
      timer?.clear();
      return Promise.resolve();
    },
  };
}

/**
 * `source`, with its last set kept in `path`: written (atomically) each
 * time the set changes, and read and used, saying so in the log, only when
 * `source` cannot be read before it has delivered a set [CLUSTER-3].
 */
export function cachedEndpoints(source: EndpointSource, path: string, options: { log?: (message: string) => void } = {}): EndpointSource {
  const log = options.log ?? defaultLog;
  let delivered = false;
  let fromCache = false;
  let writing: Promise<void> = Promise.resolve();
  const save = (set: readonly Endpoint[]) => {
    const text = `[\n${set.map((e) => `  ${endpointRecord(e)}`).join(",\n")}\n]\n`;
    const temporary = `${path}.${Math.random().toString(36).slice(2)}.tmp`;
    writing = writing
      .then(() => writeFile(temporary, text))
      .then(() => rename(temporary, path))
      .catch((error: Error) => log(`cannot write the endpoint cache ${path}: ${error.message}`));
  };
  return {
    description: `${source.description} (cached in ${path})`,
    watch(listener) {
      source.watch({
        endpoints(set) {
          if (fromCache) log(`${source.description} can be read again: ${set.length} endpoints from it replace the cached set`);
          delivered = true;
          fromCache = false;
          save(set);
          listener.endpoints(set);
        },
        unavailable(error) {
          if (delivered || fromCache) return listener.unavailable(error);
          fromCache = true;
          readFile(path, "utf8").then(
            (text) => {
              if (delivered) return;
              const set = parseEndpointFile(text, log, path);
              log(`${source.description} cannot be read (${error.message}); using the ${set.length} endpoints cached in ${path} [CLUSTER-3]`);
              listener.endpoints(set);
            },
            (cacheError: Error) => {
              fromCache = false;
              log(`${source.description} cannot be read (${error.message}) and there is no usable cache in ${path} (${cacheError.message})`);
              listener.unavailable(error);
            },
          );
        },
      });
    },
    async close() {
      await source.close();
      await writing;
    },
  };
}
