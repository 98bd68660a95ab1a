// The implementation's version, sent in HELLO's agent field (section 3.3).
// Written by `npm version` from package.json (scripts/sync-version.ts), and
// checked against it by `npm test`: package.json is the one place to set it.

/** The package version, as in package.json (section 3.3, the agent field). */
export const VERSION = "0.2.0";
