/**
 * @module
 * zod schemas as JSON Schema for the API documents, and example values made
 * from those JSON Schemas. OpenAPI 3.1 takes JSON Schema 2020-12; AsyncAPI
 * 3.0's default schema format is a superset of draft-07. Both are written in
 * zod's "input" mode (what a client sends, objects left open); the payload
 * helper's JSON objects (a zod `custom`, unrepresentable) become `{type:
 * "object"}`. The docs' `/api/docs` JSON keeps its own conversion
 * (routes/docs.ts), unchanged for its clients.
 */

import { z } from "zod";

export type JsonSchema = Record<string, unknown>;

/** `schema` as JSON Schema, without `$schema` (it is embedded in a larger document). */
export function jsonSchema(
  schema: z.ZodType,
  target: "draft-2020-12" | "draft-7" = "draft-2020-12",
): JsonSchema {
  const out: JsonSchema = z.toJSONSchema(schema, {
    target,
    io: "input",
    unrepresentable: "any",
    override(ctx) {
      if (ctx.zodSchema._zod.def.type === "custom") ctx.jsonSchema.type = "object";
    },
  });
  delete out.$schema;
  return out;
}

/** Sample strings by field name, for examples that read like the protocol's own. */
const SAMPLES: [RegExp, string][] = [
  [/^roomId$/, "visit:visit-123"],
  [/^visitId$/, "visit-123"],
  [/^callId$/, "call_01JQ8Z6V9N2W3X4Y5Z6A7B8C9D"],
  [
    /^(userId|recipientId|patientId|senderId|callerId|calleeId|from|actorId|createdBy)$/,
    "patient-1",
  ],
  [/^(clinicianIds|userIds)$/, "doctor-1"],
  [/^(notificationId|before)$/, "01JQ8Z6V9N2W3X4Y5Z6A7B8C9D"],
  [/^socketId$/, "01M869ZZ9PZ32MZ2VMBZDG8TED"],
  [/^id$/, "visit-123"],
  [/^email$/, "patient@example.com"],
  [/^password$/, "password123"],
  [/^(token|refreshToken)$/, "eyJhbGciOiJIUzI1NiJ9.e30.signature"],
  [/^message$/, "Hello, doctor!"],
  [/^title$/, "Follow-up"],
  [/^event$/, "system:maintenance"],
  [/^(error|reason)$/, "Room access denied"],
  [/^clientMessageId$/, "c-42"],
  [/^url$/, "https://files.example.com/scan.pdf"],
];

const TIME = "2026-05-04T09:30:00.000Z";

function sampleString(s: JsonSchema, key: string): string {
  if (s.format === "date-time") return TIME;
  const hint = SAMPLES.find(([re]) => re.test(key))?.[1];
  const candidates = [hint, "visit-123", "example"].filter((v): v is string => v !== undefined);
  const pattern = typeof s.pattern === "string" ? new RegExp(s.pattern) : null;
  const minLength = typeof s.minLength === "number" ? s.minLength : 0;
  const fits = (v: string) => (!pattern || pattern.test(v)) && v.length >= minLength;
  return candidates.find(fits) ?? candidates[0];
}

/**
 * A value that fits `schema` (best effort: enums, consts, formats, patterns,
 * bounds; `$ref`s are resolved in `defs`). Objects carry their required fields,
 * or their first two when none is required; arrays hold `minItems` items (at least one).
 */
export function exampleOf(schema: unknown, key = "", defs: Record<string, unknown> = {}): unknown {
  if (typeof schema !== "object" || schema === null) return null;
  const s = schema as JsonSchema;
  if (typeof s.$ref === "string") {
    const name = s.$ref.split("/").pop() ?? "";
    return exampleOf(defs[name], key, defs);
  }
  if ("const" in s) return s.const;
  if (Array.isArray(s.enum)) return s.enum[0];
  if ("default" in s) return s.default;
  if (Array.isArray(s.examples) && s.examples.length > 0) return s.examples[0];
  const alt = (s.anyOf ?? s.oneOf) as unknown[] | undefined;
  if (Array.isArray(alt) && alt.length > 0) {
    const first = alt.find((a) => (a as JsonSchema)?.type !== "null") ?? alt[0];
    return exampleOf(first, key, defs);
  }
  const type = Array.isArray(s.type) ? s.type.find((t) => t !== "null") : s.type;
  switch (type) {
    case "object": {
      const props = (s.properties ?? {}) as Record<string, unknown>;
      const required = Array.isArray(s.required) ? s.required as string[] : [];
      const keys = required.length > 0 ? required : Object.keys(props).slice(0, 2);
      return Object.fromEntries(keys.map((k) => [k, exampleOf(props[k] ?? {}, k, defs)]));
    }
    case "array": {
      if (Array.isArray(s.prefixItems)) return s.prefixItems.map((i) => exampleOf(i, key, defs));
      if (Array.isArray(s.items)) return s.items.map((i) => exampleOf(i, key, defs));
      const n = Math.max(1, typeof s.minItems === "number" ? s.minItems : 1);
      return Array.from({ length: n }, (_, i) => {
        const v = exampleOf(s.items ?? {}, key, defs);
        return typeof v === "string" && i > 0 ? `${v}${i + 1}` : v;
      });
    }
    case "string":
      return sampleString(s, key);
    case "integer":
    case "number": {
      const min = typeof s.minimum === "number" ? s.minimum : 1;
      const max = typeof s.maximum === "number" ? s.maximum : Infinity;
      return Math.min(Math.max(min, 1), max);
    }
    case "boolean":
      return true;
    case "null":
      return null;
    default:
      return {};
  }
}
