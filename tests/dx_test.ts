/**
 * What a developer meets first: `deno task dev` and `deno task start` read
 * .env and download only what the server runs (test-only packages are not in
 * the import map and live in deno.test.lock, which only the test, check and
 * bench tasks use: `deno task` installs every npm package of the import map
 * and of the lockfile it is given), and a test run on
 * a machine without Chromium says in one line that the browser tests did not
 * run.
 */

import assert from "node:assert/strict";

const root = new URL("../", import.meta.url);
const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
const RUNTIME = new Set(["hono", "jose", "zod"]);

/** The npm packages (name@version, without peer suffixes) a lockfile installs. */
async function lockedPackages(file: string): Promise<string[]> {
  const lock = JSON.parse(await Deno.readTextFile(new URL(file, root)));
  return Object.keys(lock.npm ?? {});
}

Deno.test("deno task dev and start read .env and use the runtime lockfile only", () => {
  for (const task of ["dev", "start", "start:parallel"]) {
    const cmd: string = config.tasks[task];
    assert.match(cmd, /--env-file=\.env/, task);
    assert.doesNotMatch(cmd, /deno\.test\.lock/, task);
  }
  for (const task of ["test", "check", "bench:micro"]) {
    assert.match(config.tasks[task], /--lock=deno\.test\.lock/, task);
  }
});

Deno.test("deno.json and deno.lock hold the server's packages only; deno.test.lock adds the test tools", async () => {
  // `deno task` installs every npm package of the import map and of deno.lock: test tools are
  // imported by their full npm: specifiers from tests/ instead, and locked in deno.test.lock.
  const mapped = Object.values(config.imports as Record<string, string>)
    .map((spec) => spec.replace(/^npm:\/?/, "").replace(/@[^@/]*\/?$/, ""));
  assert.deepEqual([...new Set(mapped)].sort(), [...RUNTIME].sort());
  const runtime = await lockedPackages("deno.lock");
  const names = runtime.map((p) => p.slice(0, p.lastIndexOf("@")));
  assert.deepEqual(names.filter((n) => !RUNTIME.has(n)), [], "runtime lockfile");
  const all = (await lockedPackages("deno.test.lock")).map((p) => p.slice(0, p.lastIndexOf("@")));
  for (const tool of ["playwright-core", "socket.io-client", "axe-core", "@asyncapi/parser"]) {
    assert.ok(all.includes(tool), tool);
  }
  // Every version the server runs is the one its tests ran.
  for (const p of runtime) assert.ok((await lockedPackages("deno.test.lock")).includes(p), p);
});

Deno.test("without Chromium the browser tests print one line saying so", async () => {
  const { code, stdout } = await new Deno.Command(Deno.execPath(), {
    args: [
      "test",
      "-A",
      "--lock=deno.test.lock",
      "tests/browser_test.ts",
      "tests/browser_visit_test.ts",
    ],
    cwd: root,
    // CI=true as many CI systems set it: still a skip (only BROWSER_TESTS=required fails).
    env: { CHROMIUM_PATH: "/nonexistent/chromium", CI: "true", BROWSER_TESTS: "", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(stdout);
  assert.equal(code, 0, out);
  const lines = out.split("\n").filter((l) => l.startsWith("browser tests skipped"));
  assert.equal(lines.length, 1, out);
  assert.match(lines[0], /apt-get install chromium/);
  assert.match(out, /0 passed \| 0 failed \| \d+ ignored/);
});
