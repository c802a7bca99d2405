// The one file the npm package and the Bun binaries take in place of the
// Deno sources' (as dnt's `mappings`): runtime/node.ts exports the names of
// runtime/deno.ts over node:net and process. Used by build_npm.ts and
// compile.ts.

/** Root-relative source path → the path that replaces it. */
export const MAPPINGS: Readonly<Record<string, string>> = { "runtime/deno.ts": "runtime/node.ts" };
