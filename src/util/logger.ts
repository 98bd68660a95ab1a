// Where the server reports what no caller can act on: a handler that threw
// something unexpected, a worker that crashed. Replaceable by the user's own
// logger; metadata values are never passed to it [SEC-2].

/** What a logger receives: a sentence, and fields such as the method, the request id, the peer and the error. */
export interface Logger {
  error(message: string, fields: Readonly<Record<string, unknown>>): void;
}

/** Logs to the console's error stream, one line and the error's stack per event. */
export const consoleLogger: Logger = {
  error(message, fields) {
    const { error, ...rest } = fields;
    console.error(`strata: ${message}`, rest, ...(error === undefined ? [] : [error]));
  },
};

/** Logs nothing. */
export const silentLogger: Logger = { error() {} };
