// The runtime files, for the builds that swap the Deno sources' one (as
// dnt's `mappings`): the npm package ships node.ts and bun.ts, picked by its
// `#runtime` import (build_npm.ts); the standalone binaries, built by Bun,
// take bun.ts (compile.ts).

/** The runtime file every module imports on Deno. */
export const RUNTIME = "runtime/deno.ts";
/** What the other runtimes take instead, root-relative. */
export const RUNTIMES = { node: "runtime/node.ts", bun: "runtime/bun.ts" } as const;
