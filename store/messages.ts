/**
 * @module
 * Chat messages, per room, in commit order.
 *
 * Keys:
 * - `["room_heads", roomId]` -> {@linkcode RoomHead}: the last assigned seq. Small on purpose:
 *   it is the key other isolates watch to learn a room has news.
 * - `["messages", roomId, seq]` -> {@linkcode Message}
 * - `["messages_by_client_id", roomId, senderId, clientMessageId]` -> seq (idempotent retries),
 *   expiring after {@linkcode CLIENT_MESSAGE_ID_TTL_MS} (7 days)
 * - `["message_versions", roomId, seq, n]` -> {@linkcode MessageVersion}: what an edit replaced,
 *   n = 1, 2, ... (kept for staff and admins; removed by a redaction)
 *
 * An edit replaces the message's text in place (same id and seq) and keeps the text it replaced
 * as a version; a redaction replaces the message with a tombstone (`deletedAt`, `deletedBy`, no
 * text, attachments or metadata) and deletes its versions, in one commit checked against the
 * message's versionstamp, so concurrent edits and deletes never interleave.
 *
 * A message gets the next seq of its room in the same atomic commit that
 * stores it, checked against the head's versionstamp, so seqs are gapless and
 * never reused, even with many isolates writing one room. Concurrent appends
 * share one commit (group commit, store/message_batch.ts). A message must fit
 * one KV value (store/value_size.ts): the input limits alone allow about
 * 100 KB once V8 stores its strings.
 */

import type { Announce } from "./bus_log.ts";
import { batcherFor, type Guard } from "./message_batch.ts";

export interface Attachment {
  url: string;
  name?: string;
  type?: string;
  size?: number;
}

/** The seed's message object plus `roomId` and `seq`. */
export interface Message {
  id: string;
  roomId: string;
  seq: number;
  senderId: string;
  recipientId?: string;
  visitId?: string;
  message: string;
  attachments?: Attachment[];
  timestamp: string;
  status: "sent" | "delivered" | "read";
  metadata?: Record<string, unknown>;
  clientMessageId?: string;
  /** The last edit. */
  editedAt?: string;
  /** A tombstone: when and by whom the message was redacted (its text and data are gone). */
  deletedAt?: string;
  deletedBy?: string;
}

/** What an edit replaced. */
export interface MessageVersion {
  message: string;
  /** When this text stopped being current. */
  replacedAt: string;
}

/** Edits one message may have; more are refused (each keeps a version). */
export const MAX_VERSIONS = 50;

export interface RoomHead {
  seq: number;
  at: string;
}

export type NewMessage = Omit<Message, "seq" | "status" | "id" | "timestamp">;

/**
 * How long a `clientMessageId` is remembered: a resend within this returns the
 * stored message; a later one is stored as a new message. Long enough for any
 * client's offline outbox, short enough that the index cannot grow forever
 * (one key per message sent with an id). KV deletes expired keys lazily; a
 * stale key still names the original message, in its room and by its sender.
 */
export { CLIENT_MESSAGE_ID_TTL_MS } from "./message_batch.ts";

/**
 * Stores a message with the room's next seq. With a `clientMessageId` already
 * used by the same sender in the same room, returns the stored message and
 * `created: false` instead of storing it twice. Concurrent appends are
 * committed together (store/message_batch.ts); the promise settles after the
 * commit that holds this message. With a `guard`, the commit also checks that
 * key's versionstamp and rejects with `StaleGuardError` if it moved.
 */
export function appendMessage(
  kv: Deno.Kv,
  input: NewMessage,
  opts: { id: string; now: Date; guard?: Guard; announce?: Announce },
): Promise<{ message: Message; created: boolean }> {
  return batcherFor(kv).append(input, opts);
}

export async function getMessage(kv: Deno.Kv, roomId: string, seq: number) {
  return (await kv.get<Message>(["messages", roomId, seq])).value;
}

export async function getHead(kv: Deno.Kv, roomId: string): Promise<RoomHead | null> {
  return (await kv.get<RoomHead>(["room_heads", roomId])).value;
}

export interface Page {
  messages: Message[];
  hasMore: boolean;
}

/** Up to `limit` messages before seq `before` (or the newest), oldest first. */
export async function listHistory(
  kv: Deno.Kv,
  roomId: string,
  opts: { before?: number; limit: number },
): Promise<Page> {
  const selector = opts.before === undefined
    ? { prefix: ["messages", roomId] }
    : { prefix: ["messages", roomId], end: ["messages", roomId, opts.before] };
  const out: Message[] = [];
  for await (const e of kv.list<Message>(selector, { reverse: true, limit: opts.limit + 1 })) {
    out.push(e.value);
  }
  const hasMore = out.length > opts.limit;
  return { messages: out.slice(0, opts.limit).reverse(), hasMore };
}

/** Up to `limit` messages after seq `since`, oldest first: what a reconnecting client missed. */
export async function listSince(
  kv: Deno.Kv,
  roomId: string,
  opts: { since: number; limit: number },
): Promise<Page> {
  const selector = { prefix: ["messages", roomId], start: ["messages", roomId, opts.since + 1] };
  const out: Message[] = [];
  for await (const e of kv.list<Message>(selector, { limit: opts.limit + 1 })) out.push(e.value);
  const hasMore = out.length > opts.limit;
  return { messages: out.slice(0, opts.limit), hasMore };
}

/** A stored message with the versionstamp its change is checked against. */
export async function getMessageEntry(
  kv: Deno.Kv,
  roomId: string,
  seq: number,
): Promise<Deno.KvEntryMaybe<Message>> {
  return await kv.get<Message>(["messages", roomId, seq]);
}

/** The texts an edited message had before, oldest first. */
export async function listVersions(
  kv: Deno.Kv,
  roomId: string,
  seq: number,
): Promise<{ key: Deno.KvKey; value: MessageVersion }[]> {
  const out: { key: Deno.KvKey; value: MessageVersion }[] = [];
  for await (const e of kv.list<MessageVersion>({ prefix: ["message_versions", roomId, seq] })) {
    out.push({ key: e.key, value: e.value });
  }
  return out;
}

/**
 * Replaces the text of `entry`'s message, keeping the old text as a version.
 * False when the message changed since `entry` was read (the caller decides again).
 */
export async function commitEdit(
  kv: Deno.Kv,
  entry: Deno.KvEntry<Message>,
  text: string,
  now: Date,
  versions: number,
): Promise<Message | false> {
  const m = entry.value;
  const next: Message = { ...m, message: text, editedAt: now.toISOString() };
  const res = await kv.atomic()
    .check(entry)
    .set(entry.key, next)
    .set(
      ["message_versions", m.roomId, m.seq, versions + 1],
      {
        message: m.message,
        replacedAt: now.toISOString(),
      } satisfies MessageVersion,
    )
    .commit();
  return res.ok ? next : false;
}

/**
 * Replaces `entry`'s message with a tombstone (same id and seq; no text,
 * attachments or metadata) and deletes its versions. False when the message
 * changed since `entry` was read.
 */
export async function commitRedaction(
  kv: Deno.Kv,
  entry: Deno.KvEntry<Message>,
  by: string,
  now: Date,
): Promise<Message | false> {
  const m = entry.value;
  const tombstone: Message = {
    id: m.id,
    roomId: m.roomId,
    seq: m.seq,
    senderId: m.senderId,
    ...(m.recipientId !== undefined ? { recipientId: m.recipientId } : {}),
    ...(m.visitId !== undefined ? { visitId: m.visitId } : {}),
    message: "",
    timestamp: m.timestamp,
    status: m.status,
    deletedAt: now.toISOString(),
    deletedBy: by,
  };
  const op = kv.atomic().check(entry).set(entry.key, tombstone);
  for (const v of await listVersions(kv, m.roomId, m.seq)) op.delete(v.key);
  const res = await op.commit();
  return res.ok ? tombstone : false;
}
