/**
 * @module
 * Account administration for self-hosted installs, against the same KV file
 * the server uses (KV_URL, else KV_PATH). Stop the server or not: KV handles concurrent
 * writers.
 *
 *   deno task users add --email dr.lee@clinic.example --name "Dr. Lee" --role doctor
 *   deno task users list
 *   deno task users disable dr.lee@clinic.example   # also ends their open sessions within ~1 s
 *   deno task users enable dr.lee@clinic.example
 *
 * The password is read from the USER_PASSWORD environment variable or, when
 * unset, prompted for on the terminal; it is never taken from the command
 * line, where it would land in shell history and process listings.
 */

import { parseArgs } from "node:util";
import { z } from "zod";
import { AppError } from "../lib/errors.ts";
import { idSchema } from "../store/ids.ts";
import { openKv } from "../store/open.ts";
import { type AuditEntry, auditEntry } from "../store/audit.ts";
import { systemClock } from "../lib/clock.ts";
import { ulidFactory } from "../lib/ulid.ts";
import { createUser, getUserByEmail, listUsers, roleSchema, setDisabled } from "../store/users.ts";

const USAGE = `usage:
  deno task users add --email EMAIL --name NAME --role patient|doctor|nurse|admin|service [--id ID]
  deno task users list
  deno task users disable|enable EMAIL
Password: USER_PASSWORD env var, or typed at the prompt (at least 12 characters).`;

const addSchema = z.object({
  email: z.email(),
  name: z.string().min(1).max(200),
  role: roleSchema,
  id: idSchema.optional(),
});

const newId = ulidFactory(systemClock);

/** The audit entry of an account change made here: no signed-in actor, the operator's OS user. */
function cliAudit(action: string, userId: string): AuditEntry {
  const operator = (Deno.env.get("USER") ?? "unknown").replace(/[^\w.-]/g, "_").slice(0, 64);
  return auditEntry(
    {
      actorId: null,
      actorRole: null,
      action,
      target: { userId },
      outcome: "success",
      requestId: `cli:${operator}`,
    },
    newId(),
    Date.now(),
  );
}

function fail(message: string): never {
  console.error(message);
  Deno.exit(2);
}

async function readPassword(): Promise<string> {
  const fromEnv = Deno.env.get("USER_PASSWORD");
  if (fromEnv) return fromEnv;
  if (!Deno.stdin.isTerminal()) fail("Set USER_PASSWORD or run from a terminal to be prompted.");
  Deno.stdout.writeSync(new TextEncoder().encode("Password (input hidden): "));
  Deno.stdin.setRaw(true);
  const chars: number[] = [];
  const buf = new Uint8Array(1);
  try {
    while ((await Deno.stdin.read(buf)) === 1 && buf[0] !== 13 && buf[0] !== 10) {
      if (buf[0] === 3) fail("\ncancelled");
      if (buf[0] === 127) chars.pop();
      else chars.push(buf[0]);
    }
  } finally {
    Deno.stdin.setRaw(false);
    console.log();
  }
  return new TextDecoder().decode(new Uint8Array(chars));
}

async function main(args: string[]): Promise<void> {
  const [command, ...rest] = args;
  // The server's rule: KV_URL (a KV Connect server) wins over KV_PATH.
  const kv = await openKv(
    Deno.env.get("KV_URL") || Deno.env.get("KV_PATH") || "./data/realtime.kv",
  );
  try {
    if (command === "list") {
      for await (const u of listUsers(kv)) {
        console.log(`${u.id}\t${u.role}\t${u.email}\t${u.disabled ? "disabled" : "active"}`);
      }
      return;
    }
    if (command === "disable" || command === "enable") {
      const user = rest[0] ? await getUserByEmail(kv, rest[0]) : null;
      if (!user) fail(rest[0] ? `No user with email ${rest[0]}` : USAGE);
      await setDisabled(
        kv,
        user.id,
        command === "disable",
        new Date(),
        cliAudit(`user.${command}`, user.id),
      );
      console.log(`${command}d ${user.id} (${user.email})`);
      return;
    }
    if (command !== "add") fail(USAGE);
    const { values } = parseArgs({
      args: rest,
      options: {
        email: { type: "string" },
        name: { type: "string" },
        role: { type: "string" },
        id: { type: "string" },
      },
    });
    const parsed = addSchema.safeParse(values);
    if (!parsed.success) {
      fail(
        parsed.error.issues.map((i) => `--${i.path.join(".")}: ${i.message}`).join("\n") +
          `\n${USAGE}`,
      );
    }
    const password = await readPassword();
    if (password.length < 12) fail("The password must have at least 12 characters.");
    const input = parsed.data;
    const id = input.id ?? `${input.role}-${crypto.randomUUID().slice(0, 8)}`;
    const user = await createUser(
      kv,
      { ...input, id, password },
      new Date(),
      cliAudit("user.create", id),
    );
    console.log(`created ${user.id} (${user.role}) ${user.email}`);
  } catch (err) {
    if (err instanceof AppError) fail(err.message);
    throw err;
  } finally {
    kv.close();
  }
}

if (import.meta.main) await main(Deno.args);
