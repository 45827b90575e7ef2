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
 *
 * A message gets the next seq of its room in the same atomic commit that
 * stores it, checked against the head's versionstamp, so seqs are gapless and
 * never reused, even with many isolates writing one room. A message must fit
 * one KV value ({@linkcode assertStorable}): the input limits alone allow
 * about 100 KB once V8 stores its strings.
 */

import { AppError } from "../lib/errors.ts";
import { backoff, oneAtATime } from "./serial.ts";
import { assertStorable } from "./value_size.ts";

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
}

export interface RoomHead {
  seq: number;
  at: string;
}

export type NewMessage = Omit<Message, "seq" | "status" | "id" | "timestamp">;

const MAX_ATTEMPTS = 40;

/**
 * How long a `clientMessageId` is remembered: a resend within this returns the
 * stored message; a later one is stored as a new message. Long enough for any
 * client's offline outbox, short enough that the index cannot grow forever
 * (one key per message sent with an id). KV deletes expired keys lazily; a
 * stale key still names the original message, in its room and by its sender.
 */
export const CLIENT_MESSAGE_ID_TTL_MS = 7 * 24 * 60 * 60 * 1000;

/**
 * Stores a message with the room's next seq. With a `clientMessageId` already
 * used by the same sender in the same room, returns the stored message and
 * `created: false` instead of storing it twice.
 */
export function appendMessage(
  kv: Deno.Kv,
  input: NewMessage,
  opts: { id: string; now: Date },
): Promise<{ message: Message; created: boolean }> {
  // Appends to one room from this isolate would only race each other for the head.
  return oneAtATime(kv, `room:${input.roomId}`, () => commitMessage(kv, input, opts));
}

async function commitMessage(
  kv: Deno.Kv,
  input: NewMessage,
  opts: { id: string; now: Date },
): Promise<{ message: Message; created: boolean }> {
  const headKey = ["room_heads", input.roomId];
  const clientKey = input.clientMessageId === undefined
    ? null
    : ["messages_by_client_id", input.roomId, input.senderId, input.clientMessageId];

  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const [head, prior] = clientKey
      ? await kv.getMany<[RoomHead, number]>([headKey, clientKey])
      : [await kv.get<RoomHead>(headKey), null];
    if (prior?.value != null) {
      const existing = await getMessage(kv, input.roomId, prior.value);
      // Only the very message this id named counts; anything else is replaced below.
      if (
        existing?.senderId === input.senderId &&
        existing.clientMessageId === input.clientMessageId
      ) return { message: existing, created: false };
    }
    const seq = (head.value?.seq ?? 0) + 1;
    const message: Message = {
      id: opts.id,
      seq,
      status: "sent",
      timestamp: opts.now.toISOString(),
      ...input,
    };
    // Checked per attempt: the size depends (by a byte or two) on the seq.
    assertStorable(message, "Message");
    const op = kv.atomic()
      .check(head)
      .set(headKey, { seq, at: message.timestamp } satisfies RoomHead)
      .set(["messages", input.roomId, seq], message);
    if (clientKey && prior) {
      op.check(prior).set(clientKey, seq, { expireIn: CLIENT_MESSAGE_ID_TTL_MS });
    }
    const res = await op.commit();
    if (res.ok) return { message, created: true };
    // Lost a race for the head (or for the clientMessageId): read again and retry.
    await backoff(attempt);
  }
  throw new AppError("CONFLICT", "The room is busy; retry the send", { retryable: true });
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
