// deno-lint-ignore-file no-import-prefix -- test tools stay out of the import map: `deno task`
// installs every package there, and `deno task dev` must not download them (tests/dx_test.ts).
/**
 * GET /api/asyncapi.json: a valid AsyncAPI 3.0 document (checked by
 * @asyncapi/parser) with every event of the live table and every server
 * event on both endpoints, whose schemas are the live ones, whose examples
 * fit them, and whose acks are what the server really answers.
 */

import assert from "node:assert/strict";
import { Parser } from "npm:@asyncapi/parser@3.6.3";
import { z } from "zod";
import { SERVER_EVENTS } from "../static/protocol.js";
import { ACK_SCHEMAS } from "../realtime/protocol/acks.ts";
import { failureSchema, SERVER_EVENT_SCHEMAS } from "../realtime/protocol/server_events.ts";
import { jsonSchema } from "../routes/json_schema.ts";
import { startServer, type TestServer } from "./harness.ts";
import { authSchema } from "../realtime/session.ts";

type Doc = {
  asyncapi: string;
  servers: Record<string, { pathname: string; protocol: string }>;
  channels: Record<
    string,
    {
      address: string;
      messages: Record<string, { name: string; examples: { payload: unknown }[] }>;
    }
  >;
  operations: Record<string, {
    action: string;
    messages: { $ref: string }[];
    reply?: { messages: { $ref: string }[] };
    "x-ack"?: boolean;
    "x-rateLimit"?: string;
  }>;
  components: { schemas: Record<string, unknown> };
};

const key = (event: string) => event.replaceAll(":", ".");

async function asyncapi(srv: TestServer): Promise<Doc> {
  const res = await fetch(`${srv.url}/api/asyncapi.json`);
  assert.equal(res.status, 200);
  return await res.json();
}

Deno.test("GET /api/asyncapi.json is valid AsyncAPI 3.0 for both endpoints", async () => {
  const srv = await startServer();
  try {
    const doc = await asyncapi(srv);
    assert.equal(doc.asyncapi, "3.0.0");
    const parsed = await new Parser().parse(JSON.stringify(doc));
    // Severity 0 is an error, 1 a warning; 2 and 3 are hints (e.g. "3.1.0 exists").
    const problems = parsed.diagnostics.filter((d) => d.severity <= 1)
      .map((d) => `${d.code}: ${d.message} at ${d.path.join("/")}`);
    assert.deepEqual(problems, []);
    assert.ok(parsed.document, "parsed");
    assert.deepEqual(
      parsed.document.channels().all().map((c) => c.address()).sort(),
      ["/socket.io/", "/ws"],
    );
    assert.deepEqual(
      Object.values(doc.servers).map((s) => [s.protocol, s.pathname]),
      [["ws", "/ws"], ["ws", "/socket.io/"]],
    );
  } finally {
    await srv.close();
  }
});

Deno.test("AsyncAPI: every live client event and every server event, with the live schemas", async () => {
  const srv = await startServer();
  try {
    const doc = await asyncapi(srv);
    const names = [...srv.app.events.keys()];
    assert.ok(names.length > 20);
    for (const ch of ["ws", "socketio"]) {
      for (const name of [...names, "auth", "auth:refresh"]) {
        const op = doc.operations[`${ch}.send.${key(name)}`];
        assert.ok(op, `${ch} send ${name}`);
        assert.equal(op.action, "send");
        assert.equal(op.messages[0].$ref, `#/channels/${ch}/messages/client.${key(name)}`);
        assert.ok(doc.channels[ch].messages[`client.${key(name)}`], `${ch} message ${name}`);
        const replies = op.reply!.messages.map((m) => m.$ref.split("/").pop());
        if (name === "auth") assert.ok(replies.includes("server.connect_error"), name);
        else assert.deepEqual(replies, [`ack.${key(name)}`, "ack.failure"], name);
      }
      for (const [name, def] of srv.app.events) {
        const op = doc.operations[`${ch}.send.${key(name)}`];
        assert.equal(op["x-ack"], def.ack, name);
        assert.equal(op["x-rateLimit"], def.limit ?? "default", name);
      }
      for (const name of SERVER_EVENTS) {
        const op = doc.operations[`${ch}.receive.${key(name)}`];
        assert.ok(op, `${ch} receive ${name}`);
        assert.equal(op.action, "receive");
      }
    }
    for (const [name, def] of srv.app.events) {
      assert.deepEqual(
        doc.components.schemas[`client.${key(name)}`],
        jsonSchema(def.schema, "draft-7"),
      );
      assert.ok(doc.components.schemas[`ack.${key(name)}`], `ack of ${name}`);
    }
    for (const name of SERVER_EVENTS) {
      const schema = SERVER_EVENT_SCHEMAS[name as keyof typeof SERVER_EVENT_SCHEMAS];
      assert.deepEqual(
        doc.components.schemas[`server.${key(name)}`],
        jsonSchema(schema, "draft-7"),
      );
    }
    assert.deepEqual(doc.components.schemas.failure, jsonSchema(failureSchema, "draft-7"));
    assert.equal(doc.channels.ws.address, "/ws");
    assert.equal(doc.channels.socketio.address, "/socket.io/");
  } finally {
    await srv.close();
  }
});

Deno.test("AsyncAPI: every example fits its event's schema", async () => {
  const srv = await startServer();
  try {
    const doc = await asyncapi(srv);
    let checked = 0;
    for (const [k, m] of Object.entries(doc.channels.ws.messages)) {
      const frame = m.examples[0].payload as { event?: string; data: unknown; ack?: number };
      const schema: z.ZodType | undefined = k.startsWith("client.")
        ? (m.name === "auth" || m.name === "auth:refresh"
          ? authSchema
          : srv.app.events.get(m.name)?.schema)
        : k === "ack.failure"
        ? failureSchema
        : k.startsWith("ack.")
        ? ACK_SCHEMAS[m.name]
        : k === "server.service"
        ? z.record(z.string(), z.unknown())
        : SERVER_EVENT_SCHEMAS[m.name as keyof typeof SERVER_EVENT_SCHEMAS];
      assert.ok(schema, `a schema for ${k}`);
      const parsed = schema.safeParse(frame.data);
      assert.ok(parsed.success, `${k}: ${JSON.stringify(frame.data)} ${parsed.error?.message}`);
      if (!k.startsWith("ack.")) {
        assert.equal(frame.event, k === "server.service" ? frame.event : m.name);
      }
      checked++;
    }
    assert.ok(checked > 60, `${checked} examples`);
  } finally {
    await srv.close();
  }
});

Deno.test("AsyncAPI: the documented success acks are what the server answers", async () => {
  const srv = await startServer();
  try {
    const doctor = await srv.connect("doctor@example.com");
    const patient = await srv.connect("patient@example.com");
    const room = "visit:visit-123";
    const asked = new Set<string>();
    const ask = async (client: typeof doctor, event: string, data: unknown) => {
      const reply = await client.request(event, data);
      assert.equal(reply.success, true, `${event}: ${JSON.stringify(reply)}`);
      const schema = ACK_SCHEMAS[event] as z.ZodObject;
      const parsed = schema.safeParse(reply);
      assert.ok(parsed.success, `${event}: ${JSON.stringify(reply)} ${parsed.error?.message}`);
      // Open objects would take any reply: every field the server sends must be documented.
      const undocumented = Object.keys(reply).filter((k) => !(k in schema.shape));
      assert.deepEqual(undocumented, [], `${event}: fields missing from its ack schema`);
      asked.add(event);
      return reply;
    };
    await ask(doctor, "ping", {});
    await ask(doctor, "room:join", { roomId: room });
    await ask(patient, "room:join", { roomId: room });
    const sent = await ask(patient, "message:send", { visitId: "visit-123", message: "Hello" });
    const seq = (sent.message as { seq: number }).seq;
    await ask(doctor, "room:join", { roomId: room, since: 0 });
    await ask(doctor, "message:history", { roomId: room });
    await ask(doctor, "message:read", { roomId: room, seq });
    await ask(doctor, "message:delivered", { roomId: room, seq });
    await ask(patient, "message:edit", { roomId: room, seq, message: "Hello again" });
    await ask(doctor, "message:versions", { roomId: room, seq });
    await ask(patient, "message:delete", { roomId: room, seq });
    await ask(doctor, "room:list", {});
    await ask(doctor, "typing:start", { roomId: room });
    await ask(doctor, "typing:stop", { roomId: room });
    await ask(patient, "presence:get", { userIds: ["doctor-1"] });
    await ask(patient, "presence:subscribe", { userIds: ["doctor-1"] });
    await ask(patient, "presence:unsubscribe", { userIds: ["doctor-1"] });
    await ask(doctor, "presence:setStatus", { status: "away", customStatus: "Back at 2" });
    await ask(patient, "user:profiles", { userIds: ["doctor-1"] });
    await ask(patient, "notification:getUnreadCount", {});
    await ask(patient, "notification:list", {});
    const call = await ask(doctor, "call:initiate", {
      recipientId: "patient-1",
      callType: "video",
    });
    await patient.event("call:incoming");
    await ask(patient, "call:accept", { callId: call.callId });
    await ask(doctor, "call:connected", { callId: call.callId });
    await ask(doctor, "call:signal", { callId: call.callId, type: "offer", payload: "v=0" });
    await ask(doctor, "call:end", { callId: call.callId });
    const declined = await ask(doctor, "call:initiate", {
      recipientId: "patient-1",
      callType: "audio",
    });
    await patient.event("call:incoming");
    await ask(patient, "call:reject", { callId: declined.callId });
    const note = await srv.app.realtime.notifyUser("patient-1", { title: "Lab", message: "ok" });
    await ask(patient, "notification:read", { notificationId: note.id });
    await ask(doctor, "room:leave", { roomId: room });
    await ask(doctor, "auth:refresh", { token: await srv.login("doctor@example.com") });
    assert.deepEqual([...asked].sort(), Object.keys(ACK_SCHEMAS).sort(), "every ack was asked");
  } finally {
    await srv.close();
  }
});
