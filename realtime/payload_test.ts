import assert from "node:assert/strict";
import type { z } from "zod";
import { int, jsonObject, text, utf8Length } from "./payload.ts";

/** The first issue's message, or null when the value is accepted. */
function problem(schema: z.ZodType, value: unknown): string | null {
  const r = schema.safeParse(value);
  return r.success ? null : r.error.issues[0].message;
}

function accepts(schema: z.ZodType, value: unknown, label = JSON.stringify(value)): void {
  assert.equal(problem(schema, value), null, `expected ${label} to be accepted`);
}

function rejects(schema: z.ZodType, value: unknown, message?: RegExp, label?: string): void {
  const found = problem(schema, value);
  label ??= String(JSON.stringify(value)).slice(0, 60);
  assert.notEqual(found, null, `expected ${label} to be rejected`);
  if (message) assert.match(found!, message, label);
}

/** `{"a":{"a":...1...}}` with `levels` objects. */
function nested(levels: number): string {
  return '{"a":'.repeat(levels) + "1" + "}".repeat(levels);
}

Deno.test("utf8Length counts bytes, not UTF-16 units", () => {
  assert.equal(utf8Length(""), 0);
  assert.equal(utf8Length("abc"), 3);
  assert.equal(utf8Length("é"), 2);
  assert.equal(utf8Length("€"), 3);
  assert.equal(utf8Length("😀"), 4);
  assert.equal(utf8Length("👨‍👩‍👧‍👦"), 25);
});

Deno.test("text: accepts well-formed strings within the byte limit", () => {
  const t = text(10);
  accepts(t, "hello");
  accepts(t, "0123456789");
  accepts(t, "éééééé".slice(0, 5)); // 10 bytes
  accepts(text(4), "😀");
  accepts(text(25), "👨‍👩‍👧‍👦");
  accepts(text(5, { allowEmpty: true }), "");
});

Deno.test("text: rejects empty, lone surrogates, NUL and over-limit bytes", () => {
  const t = text(10);
  rejects(t, "", /must not be empty/);
  rejects(t, "\uD800", /well-formed Unicode/, "lone high surrogate");
  rejects(t, "a\uDC00b", /well-formed Unicode/, "lone low surrogate");
  rejects(t, "😀".slice(0, 1), /well-formed Unicode/, "half an emoji");
  rejects(t, "a\0b", /NUL/);
  rejects(t, "\0", /NUL/);
  rejects(t, "01234567890", /at most 10 UTF-8 bytes/);
  rejects(t, "éééééé", /at most 10 UTF-8 bytes/, "6 x é = 12 bytes in 6 units");
  rejects(text(3), "😀", /at most 3 UTF-8 bytes/, "a 4-byte emoji in 2 units");
  rejects(text(7), "😀😀", /at most 7 UTF-8 bytes/, "8 bytes in 4 units");
  rejects(text(24), "👨‍👩‍👧‍👦", /at most 24 UTF-8 bytes/, "25-byte family emoji");
  rejects(t, 42);
  rejects(t, null);
  rejects(t, ["a"]);
});

Deno.test("int: finite safe integers in range, never -0", () => {
  const i = int(0);
  accepts(i, 0);
  accepts(i, 7);
  accepts(i, Number.MAX_SAFE_INTEGER);
  accepts(int(-10, 10), -10);
  rejects(i, -1);
  rejects(int(0, 5), 6);
  rejects(i, 1.5);
  rejects(i, 0.1);
  rejects(i, -0, /-0/);
  rejects(int(-10, 10), JSON.parse("-0"), /-0/);
  rejects(i, JSON.parse("1e400"), undefined, "1e400");
  rejects(i, Infinity, undefined, "Infinity");
  rejects(int(-Infinity, Infinity), -Infinity, undefined, "-Infinity");
  rejects(i, NaN, undefined, "NaN");
  rejects(i, 2 ** 53, undefined, "2**53");
  // Safe-integer-ness is checked even when the bounds would allow more.
  rejects(int(0, Number.MAX_VALUE), 2 ** 53, undefined, "2**53 with a huge max");
  rejects(int(0, Number.MAX_VALUE), JSON.parse("12345678901234567890"), undefined, "20 digits");
  rejects(i, "5");
  rejects(i, null);
});

Deno.test("jsonObject: accepts plain objects within depth and size", () => {
  const j = jsonObject(1024);
  accepts(j, {});
  accepts(j, { a: 1, b: "x", c: [1, 2, { d: null }], e: true });
  accepts(j, JSON.parse(nested(5)), "5 levels");
  const parsed = j.safeParse({ k: "v" });
  assert.ok(parsed.success);
  assert.deepEqual(parsed.data, { k: "v" });
});

Deno.test("jsonObject: rejects non-objects", () => {
  const j = jsonObject(1024);
  for (const v of [null, [], [{}], "x", 42, true, undefined]) {
    rejects(j, v, undefined, String(JSON.stringify(v)));
  }
});

Deno.test("jsonObject: rejects prototype keys at any depth, and nothing is polluted", () => {
  const j = jsonObject(1024);
  const attacks = [
    '{"__proto__": {"polluted": true}}',
    '{"a": {"__proto__": {"polluted": true}}}',
    '{"a": [{"__proto__": {"polluted": true}}]}',
    '{"constructor": {"prototype": {"polluted": true}}}',
    '{"a": {"prototype": {}}}',
  ];
  for (const json of attacks) {
    const value = JSON.parse(json);
    rejects(j, value, /may not use the key "(__proto__|constructor|prototype)"/, json);
  }
  assert.equal(Object.hasOwn(JSON.parse(attacks[0]), "__proto__"), true);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

Deno.test("jsonObject: caps depth, and 200,000 levels do not overflow the stack", () => {
  const j = jsonObject(1024);
  rejects(j, JSON.parse(nested(6)), /nested deeper than 5 levels/, "6 levels");
  rejects(jsonObject(1024, 2), JSON.parse(nested(3)), /nested deeper than 2 levels/, "3 of 2");
  accepts(jsonObject(1024, 2), JSON.parse(nested(2)), "2 of 2");

  const deepObject = JSON.parse(nested(200_000));
  rejects(j, deepObject, /nested deeper than 5 levels/, "200k nested objects");
  const deepArray = JSON.parse('{"a":' + "[".repeat(200_000) + "]".repeat(200_000) + "}");
  rejects(j, deepArray, /nested deeper than 5 levels/, "200k nested arrays");
});

Deno.test("jsonObject: caps the serialized size in UTF-8 bytes", () => {
  // {"k":"abc"} is 11 bytes; {"k":"é"} is 10 bytes in 9 units.
  accepts(jsonObject(11), { k: "abc" });
  rejects(jsonObject(10), { k: "abc" }, /at most 10 bytes as JSON/);
  accepts(jsonObject(10), { k: "é" });
  rejects(jsonObject(9), { k: "é" }, /at most 9 bytes as JSON/);
  rejects(jsonObject(1024), { k: "x".repeat(2000) }, /at most 1024 bytes/);
});

Deno.test("jsonObject: rejects ill-formed strings in values", () => {
  const j = jsonObject(1024);
  rejects(j, JSON.parse('{"k": "\\ud800"}'), /ill-formed/, "lone surrogate value");
  rejects(j, JSON.parse('{"k": ["ok", {"x": "\\udc00"}]}'), /ill-formed/, "nested lone surrogate");
});

Deno.test("jsonObject: rejects ill-formed strings in keys", () => {
  const j = jsonObject(1024);
  rejects(j, JSON.parse('{"\\ud800": 1}'), /ill-formed/, "lone surrogate key");
  rejects(j, JSON.parse('{"a": {"x\\udc00": 1}}'), /ill-formed/, "nested lone surrogate key");
});
