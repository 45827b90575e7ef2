import assert from "node:assert/strict";
import { withKv } from "./testing.ts";
import {
  countTopicRows,
  joinTopic,
  leaveTopic,
  listTopicMembers,
  refreshTopics,
  sweepExpiredTopics,
  type TopicMember,
} from "./topics.ts";

const ROOM = "topic:general";
const member = (userId: string, socketId: string, expiresAt: number): TopicMember => ({
  userId,
  role: userId.startsWith("doctor") ? "doctor" : "patient",
  joinedAt: "2026-06-01T00:00:00.000Z",
  socketId,
  expiresAt,
});

Deno.test("topic memberships are per socket: added with the first, removed with the last", async () => {
  await withKv(async (kv) => {
    assert.deepEqual(await joinTopic(kv, ROOM, member("patient-1", "s1", 100), 0), { added: true });
    assert.deepEqual(await joinTopic(kv, ROOM, member("patient-1", "s2", 100), 0), {
      added: false,
    });
    // The same socket joining again is not news either.
    assert.deepEqual(await joinTopic(kv, ROOM, member("patient-1", "s1", 100), 0), {
      added: false,
    });
    await joinTopic(kv, ROOM, member("doctor-1", "s3", 100), 0);
    assert.deepEqual((await listTopicMembers(kv, ROOM, 0)).map((p) => p.userId), [
      "doctor-1",
      "patient-1",
    ]);
    assert.deepEqual(await leaveTopic(kv, ROOM, "patient-1", "s1", 0), { removed: false });
    assert.deepEqual(await leaveTopic(kv, ROOM, "patient-1", "s2", 0), { removed: true });
    assert.deepEqual(await leaveTopic(kv, ROOM, "patient-1", "s2", 0), { removed: false });
    assert.equal(await countTopicRows(kv, ROOM), 1);
  });
});

Deno.test("topic memberships stop counting at expiresAt unless refreshed; left rows are not revived", async () => {
  await withKv(async (kv) => {
    await joinTopic(kv, ROOM, member("patient-1", "s1", 100), 0);
    await joinTopic(kv, ROOM, member("doctor-1", "s2", 100), 0);
    await refreshTopics(kv, [
      { roomId: ROOM, userId: "doctor-1", socketId: "s2" },
      { roomId: ROOM, userId: "patient-2", socketId: "gone" },
    ], 500);
    // A dead process's row (not refreshed) no longer counts; the refreshed one does.
    assert.deepEqual((await listTopicMembers(kv, ROOM, 200)).map((p) => p.userId), ["doctor-1"]);
    // A socket whose expired row is still stored joins as news again.
    assert.deepEqual(await joinTopic(kv, ROOM, member("patient-1", "s9", 700), 200), {
      added: true,
    });
    // The refresh did not create a row for a socket that had none.
    assert.equal(await countTopicRows(kv, ROOM), 3);
  });
});

Deno.test("sweepExpiredTopics deletes what a dead process left and names who left for good", async () => {
  await withKv(async (kv) => {
    await joinTopic(kv, ROOM, member("patient-1", "dead-1", 100), 0);
    await joinTopic(kv, ROOM, member("doctor-1", "dead-2", 100), 0);
    await joinTopic(kv, ROOM, member("doctor-1", "alive", 900), 0);
    const ended = await sweepExpiredTopics(kv, 200);
    assert.deepEqual(ended.map((m) => [m.roomId, m.userId]), [[ROOM, "patient-1"]]);
    assert.equal(await countTopicRows(kv, ROOM), 1);
    assert.deepEqual(await sweepExpiredTopics(kv, 200), []);
  });
});

Deno.test("two sockets of one user leaving a topic at once: exactly one leave reports the user gone", async () => {
  await withKv(async (kv) => {
    const now = Date.now();
    const member = (socketId: string) => ({
      userId: "patient-1",
      role: "patient",
      socketId,
      joinedAt: new Date(now).toISOString(),
      expiresAt: now + 45_000,
    });
    await joinTopic(kv, "topic:general", member("s1"), now);
    await joinTopic(kv, "topic:general", member("s2"), now);
    const [a, b] = await Promise.all([
      leaveTopic(kv, "topic:general", "patient-1", "s1", now),
      leaveTopic(kv, "topic:general", "patient-1", "s2", now),
    ]);
    assert.deepEqual([a.removed, b.removed].sort(), [false, true]);
  });
});
