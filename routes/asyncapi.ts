/**
 * @module
 * The AsyncAPI 3.0 document of the realtime protocol (`GET /api/asyncapi.json`),
 * generated from the live event table (each client event's zod schema, ack
 * flag and rate class), the session's own events (auth, auth:refresh), the
 * success acks (realtime/protocol/acks.ts), the server events' schemas
 * (realtime/protocol/server_events.ts) and the vocabulary (static/protocol.js:
 * close codes, error codes, reserved prefixes). Two channels carry the same
 * events: `/ws` (JSON frames `{event, data, id?}` / `{ack, data}`) and
 * `/socket.io/` (socket.io 5 packets over Engine.IO 4). Operations are a
 * client's: it sends client events (acks are their replies) and receives
 * server events. Schemas are JSON Schema draft-07, AsyncAPI's default format.
 */

import { z } from "zod";
import { CLOSE_CODES, DOMAIN_PREFIXES, ERROR_CODES, SERVER_EVENTS } from "../static/protocol.js";
import type { EventMap } from "../realtime/events.ts";
import { ACK_SCHEMAS } from "../realtime/protocol/acks.ts";
import { authSchema } from "../realtime/session.ts";
import {
  connectErrorSchema,
  failureSchema,
  SERVER_EVENT_SCHEMAS,
} from "../realtime/protocol/server_events.ts";
import { exampleOf, type JsonSchema, jsonSchema } from "./json_schema.ts";
import { ACK_EXAMPLES, CLIENT_EXAMPLES, SERVER_EXAMPLES } from "./asyncapi_examples.ts";

/** The events the session handles itself, before and beside the event table. */
const SESSION_EVENTS = [
  {
    name: "auth",
    schema: authSchema,
    ack: false,
    limit: "none",
    summary: "Authenticate (first frame)",
  },
  {
    name: "auth:refresh",
    schema: authSchema,
    ack: true,
    limit: "default",
    summary: "Replace the token",
  },
] as const;

type Channel = "ws" | "socketio";

/** Component and message keys allow `[A-Za-z0-9._-]` only: `message:send` -> `message.send`. */
const keyOf = (event: string) => event.replaceAll(":", ".");
const ref = (path: string) => ({ $ref: path });
const schemaRef = (name: string) => ref(`#/components/schemas/${name}`);
const messageRef = (ch: Channel, key: string) => ref(`#/channels/${ch}/messages/${key}`);
/** A message's tag: its domain (`message:send` -> message), or "connection". */
function tagOf(event: string) {
  return [{ name: event.includes(":") ? event.split(":")[0] : "connection" }];
}

/** Where the frame (native) or packet (socket.io) puts the name and the payload. */
function envelope(ch: Channel, kind: "client" | "server" | "ack", event: string, data: JsonSchema) {
  if (ch === "ws") {
    if (kind === "ack") {
      return {
        type: "object",
        required: ["ack", "data"],
        properties: { ack: { type: "integer", minimum: 0 }, data },
      };
    }
    return {
      type: "object",
      required: ["event", "data"],
      properties: {
        event: { type: "string", const: event },
        data,
        ...(kind === "client" ? { id: { type: "integer", minimum: 0 } } : {}),
      },
    };
  }
  if (kind === "ack") return { type: "array", items: [data], minItems: 1, maxItems: 1 };
  return {
    type: "array",
    items: [{ type: "string", const: event }, data],
    minItems: kind === "client" ? 1 : 2,
    maxItems: 2,
  };
}

function frameExample(
  ch: Channel,
  kind: "client" | "server" | "ack",
  event: string,
  data: unknown,
) {
  if (ch === "ws") {
    if (kind === "ack") return { ack: 7, data };
    return kind === "client" ? { event, data, id: 7 } : { event, data };
  }
  return kind === "ack" ? [data] : [event, data];
}

const PACKETS: Record<"client" | "server" | "ack", string> = {
  client: '`42["<event>", data]`, or `42<id>["<event>", data]` to be acked',
  server: '`42["<event>", data]`',
  ack: "`43<id>[data]`",
};

export function asyncApiDocument(events: EventMap): Record<string, unknown> {
  const schemas: Record<string, unknown> = {
    failure: jsonSchema(failureSchema, "draft-7"),
  };
  const client = [
    ...SESSION_EVENTS.map((e) => ({ ...e, schema: e.schema as z.ZodType })),
    ...[...events].map(([name, def]) => ({
      name,
      schema: def.schema,
      ack: def.ack,
      limit: def.limit ?? "default",
      summary: undefined,
    })),
  ];
  for (const e of client) {
    schemas[`client.${keyOf(e.name)}`] = jsonSchema(e.schema, "draft-7");
    const ack = ACK_SCHEMAS[e.name];
    if (ack) schemas[`ack.${keyOf(e.name)}`] = jsonSchema(ack, "draft-7");
  }
  for (const name of SERVER_EVENTS) {
    const schema = SERVER_EVENT_SCHEMAS[name as keyof typeof SERVER_EVENT_SCHEMAS];
    schemas[`server.${keyOf(name)}`] = jsonSchema(schema, "draft-7");
  }
  const dataOf = (key: string) => exampleOf(schemas[key], "", schemas);

  const channels: Record<string, unknown> = {};
  const operations: Record<string, unknown> = {};
  for (const ch of ["ws", "socketio"] as const) {
    const messages: Record<string, unknown> = {};
    const message = (
      key: string,
      kind: "client" | "server" | "ack",
      event: string,
      schemaName: string,
      extra: Record<string, unknown> = {},
    ) => {
      const data = kind === "client"
        ? CLIENT_EXAMPLES[event] ?? dataOf(schemaName)
        : kind === "server"
        ? SERVER_EXAMPLES[event] ?? dataOf(schemaName)
        : ACK_EXAMPLES[event] ?? dataOf(schemaName);
      messages[key] = {
        name: event,
        title: kind === "ack" ? `${event} ack` : event,
        summary: ch === "ws" ? undefined : `socket.io packet ${PACKETS[kind]}`,
        tags: tagOf(event),
        payload: envelope(ch, kind, event, schemaRef(schemaName)),
        ...(ch === "ws" && kind !== "server"
          ? { correlationId: { location: `$message.payload#/${kind === "ack" ? "ack" : "id"}` } }
          : {}),
        examples: [{ name: "example", payload: frameExample(ch, kind, event, data) }],
        ...extra,
      };
    };

    for (const name of SERVER_EVENTS) {
      message(`server.${keyOf(name)}`, "server", name, `server.${keyOf(name)}`);
    }
    message("ack.failure", "ack", "failure", "failure", {
      title: "failed ack",
      summary: "Every event's failure: `{success: false, error, code, issues?, retryable?}`",
      examples: [{
        name: "forbidden",
        payload: frameExample(ch, "ack", "", {
          success: false,
          error: "Room access denied",
          code: "FORBIDDEN",
        }),
      }],
    });
    messages["server.service"] = {
      name: "service event",
      title: "an event emitted by a service",
      summary: "POST /api/v1/realtime/emit and the emitToUser/emitToRoom/broadcast API: any " +
        `name outside the protocol's own (reserved prefixes: ${DOMAIN_PREFIXES.join(" ")})`,
      tags: [{ name: "service" }],
      payload: envelope(ch, "server", "system:maintenance", { type: "object" }),
      examples: [{
        name: "maintenance",
        payload: frameExample(ch, "server", "system:maintenance", { at: "22:00" }),
      }],
    };
    if (ch === "socketio") socketIoHandshake(messages);

    for (const e of client) {
      const key = keyOf(e.name);
      // socket.io authenticates with its CONNECT packet (socketIoHandshake), not an event.
      if (ch === "ws" || e.name !== "auth") {
        message(`client.${key}`, "client", e.name, `client.${key}`);
      }
      if (ACK_SCHEMAS[e.name]) message(`ack.${key}`, "ack", e.name, `ack.${key}`);
      const reply = e.name === "auth"
        ? (ch === "ws"
          ? ["server.connected", "server.connect_error"]
          : ["server.connect", "server.connected", "server.connect_error"])
        : [`ack.${key}`, "ack.failure"];
      operations[`${ch}.send.${key}`] = {
        action: "send",
        channel: ref(`#/channels/${ch}`),
        title: e.name,
        summary: e.summary ?? `Send ${e.name}`,
        description: e.name === "auth"
          ? "Never acked: `connected` on success, `connect_error` then a 4401/4429 close on failure."
          : `Acked when the frame has an id (the seed's client ${
            e.ack ? "passes a callback" : "sends it without one"
          }); without one, only a failure is reported, as an \`error\` event.`,
        tags: tagOf(e.name),
        messages: [messageRef(ch, `client.${key}`)],
        reply: { channel: ref(`#/channels/${ch}`), messages: reply.map((k) => messageRef(ch, k)) },
        "x-ack": e.ack,
        "x-rateLimit": e.limit,
      };
    }
    for (const name of SERVER_EVENTS) {
      operations[`${ch}.receive.${keyOf(name)}`] = {
        action: "receive",
        channel: ref(`#/channels/${ch}`),
        title: name,
        summary: `Receive ${name}`,
        tags: tagOf(name),
        messages: [messageRef(ch, `server.${keyOf(name)}`)],
      };
    }
    operations[`${ch}.receive.service`] = {
      action: "receive",
      channel: ref(`#/channels/${ch}`),
      summary: "Receive an event a service emitted",
      tags: [{ name: "service" }],
      messages: [messageRef(ch, "server.service")],
    };
    channels[ch] = {
      address: ch === "ws" ? "/ws" : "/socket.io/",
      title: ch === "ws" ? "Native WebSocket" : "socket.io",
      description: ch === "ws" ? WS_CHANNEL : SOCKETIO_CHANNEL,
      servers: [ref(`#/servers/${ch}`)],
      messages,
      ...(ch === "ws" ? { "x-closeCodes": CLOSE_CODES } : {}),
    };
  }

  return {
    asyncapi: "3.0.0",
    info: {
      title: "telehealth-realtime realtime protocol",
      version: "1.0.0",
      description: "Both realtime endpoints: the same events, acks, rules and errors, two wire " +
        "formats. Operations are a client's: it sends client events (the acks are their " +
        "replies) and receives server events. The full reference is docs/PROTOCOL.md " +
        "(/api/docs/protocol); the HTTP API is /api/openapi.json.",
    },
    defaultContentType: "application/json",
    servers: {
      ws: server("/ws", "Native WebSocket: JSON text frames", "the `auth` frame"),
      socketio: server(
        "/socket.io/",
        "socket.io 5 over Engine.IO 4 (long-polling and WebSocket), for socket.io-client 3 and 4",
        "the CONNECT packet's auth `{token}`",
      ),
    },
    channels,
    operations,
    components: {
      schemas,
      securitySchemes: {
        bearer: {
          type: "http",
          scheme: "bearer",
          bearerFormat: "JWT",
          description: "The access token of POST /api/v1/auth/login",
        },
      },
    },
    "x-errorCodes": ERROR_CODES,
    "x-closeCodes": CLOSE_CODES,
  };
}

function server(pathname: string, description: string, first: string) {
  return {
    host: "{host}",
    protocol: "ws",
    pathname,
    description: `${description}. Authenticate with ${first} or an \`Authorization: Bearer\` ` +
      "header on the upgrade; a token in the query string is refused. Use wss behind TLS.",
    variables: { host: { default: "localhost:8080", description: "The server's host and port" } },
    security: [ref("#/components/securitySchemes/bearer")],
  };
}

/** socket.io's CONNECT / CONNECT_ERROR packets replace the native auth frame's answers. */
function socketIoHandshake(messages: Record<string, unknown>) {
  messages["server.connect"] = {
    name: "CONNECT ack",
    summary: 'socket.io packet `40{"sid": socketId}`, then `42["connected", ...]`',
    tags: [{ name: "connection" }],
    payload: { type: "object", required: ["sid"], properties: { sid: { type: "string" } } },
    examples: [{ name: "connected", payload: { sid: "01M869ZZ9PZ32MZ2VMBZDG8TED" } }],
  };
  const connectError = jsonSchema(connectErrorSchema, "draft-7");
  messages["server.connect_error"] = {
    name: "connect_error",
    summary: "socket.io CONNECT_ERROR packet `44{message}`; socket.io-client emits connect_error",
    tags: [{ name: "connection" }],
    payload: connectError,
    examples: [{ name: "invalid", payload: { message: "Authentication error: Invalid token" } }],
  };
  messages["client.auth"] = {
    name: "auth",
    summary: 'socket.io CONNECT packet `40{"token": "..."}` (the `auth` option of io())',
    tags: [{ name: "connection" }],
    payload: schemaRef("client.auth"),
    examples: [{ name: "connect", payload: CLIENT_EXAMPLES.auth }],
  };
}

const WS_CHANNEL = 'JSON text frames, one object each. Client: `{"event": name, "data": ' +
  'payload, "id"?: integer}`; an id asks for exactly one ack `{"ack": id, "data": ' +
  '{"success": true, ...}}` or the failure `{"success": false, error, code}`. Server events: ' +
  '`{"event": name, "data": payload}`. A frame over MAX_FRAME_BYTES closes 1009; binary ' +
  "frames are refused. Close codes: `x-closeCodes` (reconnect or not).";

const SOCKETIO_CHANNEL = "Engine.IO 4 (`GET/POST /socket.io/?EIO=4&transport=polling|websocket`) " +
  "carrying socket.io 5 packets in the default namespace. Events are `42[name, data]`, acked " +
  "ones `42<id>[name, data]` answered `43<id>[ack]`; payloads and acks are those of /ws. Binary " +
  "attachments are refused. Before a server close the server sends " +
  '`42["error", {success: false, code, error, closeCode}]`, then `41` when reconnecting cannot help.';
