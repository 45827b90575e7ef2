import assert from "node:assert/strict";
import { idSchema, isId } from "./ids.ts";

Deno.test("isId: letters, digits, '_' and '-', starting alphanumeric, at most 64", () => {
  for (const ok of ["a", "Z", "0", "visit-123", "patient_1", "a".repeat(64), "A-b_C-9"]) {
    assert.equal(isId(ok), true, ok);
  }
  const bad = [
    "",
    "-a",
    "_a",
    "a".repeat(65),
    "a:b",
    "a/b",
    "..",
    "a b",
    "a\n",
    "a\0",
    "é",
    "__proto__",
  ];
  for (const id of bad) assert.equal(isId(id), false, JSON.stringify(id));
});

Deno.test("idSchema: the same rule as a zod schema, with a readable message", () => {
  assert.equal(idSchema.parse("visit-123"), "visit-123");
  const r = idSchema.safeParse("../x");
  assert.equal(r.success, false);
  assert.match(r.error!.issues[0].message, /1-64 letters, digits/);
  assert.equal(idSchema.safeParse(12).success, false);
});
