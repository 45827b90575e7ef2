/**
 * @module
 * The audit trail from the command line, against the server's KV (KV_URL, else KV_PATH):
 *
 *   deno task audit export --from 2026-01-01 --to 2026-12-31 > audit.jsonl
 *   deno task audit purge            # apply AUDIT_RETENTION_DAYS now (the server does it hourly)
 *
 * `export` writes one JSON object per line, oldest first, to stdout; `--from`
 * and `--to` take ISO 8601 times (a date alone is midnight UTC; `--to` with a
 * date alone includes that whole day) and both are optional.
 */

import { parseArgs } from "node:util";
import { exportAudit, purgeAudit } from "../store/audit.ts";
import { openKv } from "../store/open.ts";

const USAGE = `usage:
  deno task audit export [--from ISO-TIME] [--to ISO-TIME]   (JSON lines on stdout)
  deno task audit purge                                      (deletes entries past AUDIT_RETENTION_DAYS)`;

function fail(message: string): never {
  console.error(message);
  Deno.exit(2);
}

/** Parses an ISO time; a bare date as `--to` means the end of that day. */
export function parseBound(value: string | undefined, end: boolean): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (!Number.isFinite(ms)) fail(`Not an ISO 8601 time: ${value}\n${USAGE}`);
  return end && /^\d{4}-\d{2}-\d{2}$/.test(value) ? ms + 86_400_000 - 1 : ms;
}

async function main(args: string[]): Promise<void> {
  const [command, ...rest] = args;
  if (command !== "export" && command !== "purge") fail(USAGE);
  // The server's rule: KV_URL (a KV Connect server) wins over KV_PATH.
  const kv = await openKv(
    Deno.env.get("KV_URL") || Deno.env.get("KV_PATH") || "./data/realtime.kv",
  );
  try {
    if (command === "purge") {
      const days = Number(Deno.env.get("AUDIT_RETENTION_DAYS") || 2190);
      if (!Number.isInteger(days) || days < 1) fail("AUDIT_RETENTION_DAYS must be a whole number");
      const deleted = await purgeAudit(kv, Date.now() - days * 86_400_000);
      console.error(`deleted ${deleted} entries older than ${days} days`);
      return;
    }
    const { values } = parseArgs({
      args: rest,
      options: { from: { type: "string" }, to: { type: "string" } },
    });
    const range = { from: parseBound(values.from, false), to: parseBound(values.to, true) };
    const out = Deno.stdout.writable.getWriter();
    const enc = new TextEncoder();
    let lines: string[] = [];
    for await (const entry of exportAudit(kv, range)) {
      lines.push(JSON.stringify(entry));
      if (lines.length === 500) {
        await out.write(enc.encode(lines.join("\n") + "\n"));
        lines = [];
      }
    }
    if (lines.length > 0) await out.write(enc.encode(lines.join("\n") + "\n"));
    out.releaseLock();
  } finally {
    kv.close();
  }
}

if (import.meta.main) await main(Deno.args);
