// The version the programs print is the one deno.json declares (on Node and
// Bun: the one the npm package, built from deno.json, declares).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { VERSION } from "../mod.ts";

test("VERSION equals deno.json's version, and the npm package's", () => {
  const manifest = "Deno" in globalThis ? "../deno.json" : "../package.json";
  const config = JSON.parse(readFileSync(new URL(manifest, import.meta.url), "utf8"));
  assert.equal(VERSION, config.version);
});
