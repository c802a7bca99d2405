// The whole suite (suite.ts), run many times in a row to find flaky tests:
// prints each test that failed with the number of runs it failed in, and
// exits 1 if any did.
// Run it: npm run test:repeat -- 20 (10 runs if no count is given).

import { suite } from "./suite.ts";

const runs = Number(Deno.args[0] ?? 10);
if (!Number.isInteger(runs) || runs < 1 || Deno.args.length > 1) {
  console.error("usage: npm run test:repeat -- [RUNS]   (RUNS a whole number from 1)");
  Deno.exit(2);
}
/** Runs each test failed in, by `runtime: name`. */
const failed = new Map<string, number>();
let passed = 0;
for (let run = 1; run <= runs; run++) {
  console.log(`run ${run} of ${runs}`);
  const tests = await suite();
  if (tests.length === 0) passed++;
  // A seed in a test's name (CHAOS_SEED=123) differs from run to run.
  for (const test of new Set(tests.map((name) => name.replace(/=\d+/g, "=…")))) {
    failed.set(test, (failed.get(test) ?? 0) + 1);
  }
}
console.log(`${passed} of ${runs} runs passed`);
for (const [test, count] of [...failed].sort((a, b) => b[1] - a[1])) {
  console.log(`${String(count).padStart(4)} of ${runs}  ${test}`);
}
Deno.exit(failed.size === 0 ? 0 : 1);
