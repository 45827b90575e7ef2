/**
 * @module
 * message:edit, message:delete and message:versions.
 *
 * - An edit is the sender's, within `MESSAGE_EDIT_WINDOW_S` of sending: the
 *   text changes in place (same id and seq), the text it replaced is kept as
 *   a version for the clinical record.
 * - A delete is a redaction: the sender within the window, or the visit's
 *   clinicians and admins at any time. The message becomes a tombstone
 *   (`deletedAt`, `deletedBy`, no text, attachments or metadata) and its
 *   versions are deleted: protected health information sent to the wrong room
 *   leaves storage.
 * - Versions are readable by the visit's clinicians and admins only.
 *
 * Each change reaches the room as `message:updated` (the new message object),
 * is in the audit trail (ids only) and shows in history and resume, which
 * read the stored message.
 */

import { z } from "zod";
import { AppError, conflict, forbidden, notFound } from "../../lib/errors.ts";
import {
  commitEdit,
  commitRedaction,
  getMessageEntry,
  listVersions,
  MAX_VERSIONS,
  type Message,
} from "../../store/messages.ts";
import { isHeld } from "../../store/retention.ts";
import { audienceOf, type Grant } from "../access.ts";
import { auditActor, defineEvent, type HandlerContext } from "../events.ts";
import { int, text } from "../payload.ts";
import { MAX_MESSAGE_BYTES, resolve } from "./messages.ts";

const ref = { roomId: text(200), seq: int(1) };
/** A change that keeps losing to concurrent ones is refused after this many tries. */
const ATTEMPTS = 5;

/** The message `seq` of the room, or NOT_FOUND (also for another room's seq: seqs are per room). */
async function load(ctx: HandlerContext, roomId: string, seq: number) {
  const entry = await getMessageEntry(ctx.services.kv, roomId, seq);
  if (!entry.value) throw notFound(`No message ${seq} in "${roomId}"`);
  return entry as Deno.KvEntry<Message>;
}

function inWindow(ctx: HandlerContext, m: Message): boolean {
  return ctx.services.clock.now() - Date.parse(m.timestamp) <= ctx.services.messageEditWindowMs;
}

/** The visit's clinicians and admins: they may redact any message and read versions. */
function isModerator(ctx: HandlerContext, grant: Grant): boolean {
  return ctx.role === "admin" || (grant.visit?.clinicianIds.includes(ctx.userId) ?? false);
}

function announce(ctx: HandlerContext, grant: Grant, message: Message, action: string): void {
  const { emitter, audit } = ctx.services;
  emitter.emit(audienceOf(grant), "message:updated", message, { exceptSocket: ctx.socketId });
  audit.record({
    ...auditActor(ctx),
    action,
    outcome: "success",
    target: {
      roomId: message.roomId,
      ...(message.visitId ? { visitId: message.visitId } : {}),
      seqFrom: message.seq,
      seqTo: message.seq,
    },
  });
}

/**
 * Reads message `seq`, lets `attempt` decide and commit (it throws to refuse,
 * returns `{unchanged}` when there is nothing to do, false when a concurrent
 * change won the commit) and announces what it committed; again after a lost
 * race, at most {@linkcode ATTEMPTS} times.
 */
async function change(
  ctx: HandlerContext,
  grant: Grant,
  seq: number,
  action: string,
  attempt: (entry: Deno.KvEntry<Message>) => Promise<Message | false | { unchanged: Message }>,
): Promise<{ message: Message; changed: boolean }> {
  for (let i = 0; i < ATTEMPTS; i++) {
    const result = await attempt(await load(ctx, grant.room.id, seq));
    if (result === false) continue;
    if ("unchanged" in result) return { message: result.unchanged, changed: false };
    announce(ctx, grant, result, action);
    return { message: result, changed: true };
  }
  throw conflict("The message is changing; retry", true);
}

const windowMessage = (ctx: HandlerContext) =>
  `The edit window (${Math.round(ctx.services.messageEditWindowMs / 1000)} s) has passed`;

export const editEvents = {
  "message:edit": defineEvent({
    ack: true,
    schema: z.object({ ...ref, message: text(MAX_MESSAGE_BYTES) }),
    async handler(ctx, input) {
      const grant = await resolve(ctx, { roomId: input.roomId }, "publish", "userId");
      const { kv, clock } = ctx.services;
      return await change(ctx, grant, input.seq, "message.edit", async (entry) => {
        const m = entry.value;
        if (m.deletedAt) throw conflict("The message was deleted; it cannot be edited");
        if (m.senderId !== ctx.userId) throw forbidden("Only the sender may edit a message");
        if (!inWindow(ctx, m)) throw forbidden(windowMessage(ctx));
        if (m.message === input.message) return { unchanged: m };
        const versions = (await listVersions(kv, m.roomId, m.seq)).length;
        if (versions >= MAX_VERSIONS) {
          throw new AppError(
            "LIMIT_EXCEEDED",
            `A message may be edited ${MAX_VERSIONS} times; send a new one`,
          );
        }
        return await commitEdit(kv, entry, input.message, new Date(clock.now()), versions);
      });
    },
  }),

  "message:delete": defineEvent({
    ack: true,
    schema: z.object(ref),
    async handler(ctx, input) {
      const grant = await resolve(ctx, { roomId: input.roomId }, "read", "userId");
      const { kv, clock } = ctx.services;
      const held = ctx.role !== "admin" && await isHeld(kv, grant.room.id);
      const { message } = await change(ctx, grant, input.seq, "message.delete", async (entry) => {
        const m = entry.value;
        if (m.deletedAt) throw conflict("The message is already deleted");
        if (held) {
          throw forbidden("The room is on legal hold: only an admin may redact its messages");
        }
        if (!isModerator(ctx, grant)) {
          if (m.senderId !== ctx.userId) {
            throw forbidden(
              "Only the sender, the visit's clinicians and admins may delete a message",
            );
          }
          if (!inWindow(ctx, m)) throw forbidden(windowMessage(ctx));
        }
        return await commitRedaction(kv, entry, ctx.userId, new Date(clock.now()));
      });
      return { message };
    },
  }),

  "message:versions": defineEvent({
    ack: true,
    schema: z.object(ref),
    async handler(ctx, input) {
      const grant = await resolve(ctx, { roomId: input.roomId }, "read", "userId");
      if (!isModerator(ctx, grant)) {
        throw forbidden("Earlier versions are for the visit's clinicians and admins");
      }
      const entry = await load(ctx, grant.room.id, input.seq);
      const versions = await listVersions(ctx.services.kv, grant.room.id, input.seq);
      return {
        message: entry.value,
        versions: versions.map((v) => v.value),
      };
    },
  }),
};
