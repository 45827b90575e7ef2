/**
 * Micro-benchmarks of payload validation: the zod schema of message:send (the
 * hot path) on a good payload and on refusals. Run with `deno task bench:micro`.
 */
import { messageEvents } from "../realtime/handlers/messages.ts";
import { AppError } from "../lib/errors.ts";

const schema = messageEvents["message:send"].schema;
const good = { visitId: "visit-123", message: "x".repeat(100), clientMessageId: "c-1-1" };
const withAttachment = {
  ...good,
  attachments: [{ url: "https://files.example/a.pdf", name: "a.pdf", type: "application/pdf" }],
  metadata: { kind: "note", tags: ["a", "b"] },
};
const bad = { visitId: "visit-123", roomId: "visit:visit-123", message: 7 };

Deno.bench("message:send schema: valid", { group: "validation", baseline: true }, () => {
  schema.safeParse(good);
});

Deno.bench("message:send schema: attachment and metadata", { group: "validation" }, () => {
  schema.safeParse(withAttachment);
});

Deno.bench("message:send schema: refused (two problems)", { group: "validation" }, () => {
  schema.safeParse(bad);
});

Deno.bench("AppError: a refusal (no stack trace)", { group: "refusal" }, () => {
  new AppError("RATE_LIMITED", "Too many requests; slow down", { retryable: true });
});

Deno.bench(
  "Error: for comparison, with a stack trace",
  { group: "refusal", baseline: true },
  () => {
    new Error("Too many requests; slow down");
  },
);
