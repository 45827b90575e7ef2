/**
 * @module
 * The OpenAPI 3.1 document of every HTTP route (`GET /api/openapi.json`),
 * built from the table in ./openapi_routes.ts (and ./openapi_endpoints.ts). Request bodies and queries are
 * the zod schemas the routes validate with (exported by each route module),
 * responses the schemas of ./http_schemas.ts, all converted by zod's
 * `z.toJSONSchema` (JSON Schema 2020-12, as OpenAPI 3.1 takes it). The table
 * is the one hand-kept part: tests/openapi_test.ts fails when a route
 * registered in the app is missing from it, or a documented one is not
 * registered.
 */

import type { z } from "zod";
import type { ErrorCode } from "../lib/errors.ts";
import { engineErrorSchema, errorBodySchema } from "./http_schemas.ts";
import { exampleOf, type JsonSchema, jsonSchema } from "./json_schema.ts";
import { REFRESH_COOKIE } from "./auth.ts";

/** One answer of a route. */
export interface ApiResponse {
  description: string;
  /** A JSON body's schema. */
  body?: z.ZodType;
  /** A body that is not JSON: its media type (and, optionally, a JSON Schema of it). */
  media?: string;
  /** Response headers worth knowing, name -> description. */
  headers?: Record<string, string>;
  /** An error answer: the codes it may carry (the body is the error body). */
  codes?: readonly ErrorCode[];
  /** An Engine.IO error body `{code, message}` instead of the error body. */
  engine?: boolean;
  /** For an error answer, its example message; else an example body. */
  example?: unknown;
}

/** One operation of the table. */
export interface ApiRoute {
  method: "get" | "post" | "patch" | "delete" | "options";
  /** OpenAPI form: `/api/v1/visits/{id}`. */
  path: string;
  /** Other paths serving the same operation (`/socket.io` beside `/socket.io/`). */
  aliases?: readonly string[];
  id: string;
  tag: string;
  summary: string;
  description?: string;
  /**
   * bearer: `Authorization: Bearer`; refresh: the refresh cookie (or a body token); upgrade: an
   * optional bearer header; metrics: METRICS_TOKEN as a bearer, or a loopback peer without it.
   */
  auth: "none" | "bearer" | "refresh" | "upgrade" | "metrics";
  /** Who may call it, beyond being signed in (also in `x-roles`). */
  roles?: readonly string[];
  body?: { schema: z.ZodType; required?: boolean; example?: unknown; media?: string };
  /** A zod object whose keys are query parameters (the one the route parses the query with). */
  query?: z.ZodType;
  /** Other parameters: query, header or path, with a JSON Schema. */
  parameters?: readonly {
    name: string;
    in: "query" | "header" | "path";
    required?: boolean;
    description: string;
    schema: JsonSchema;
  }[];
  /** Path parameter descriptions by name (every `{name}` in the path is a required string). */
  params?: Record<string, string>;
  responses: Record<number, ApiResponse>;
}

// Answers many routes share.

export const BEARER: ApiResponse = {
  description: "Missing, invalid, revoked or expired bearer token",
  codes: ["UNAUTHENTICATED", "TOKEN_EXPIRED"],
  example: "Invalid token",
};
export const TOO_LARGE: ApiResponse = {
  description: "A body over 64 KiB",
  codes: ["PAYLOAD_TOO_LARGE"],
  example: "Request body too large",
};
export const INTERNAL: ApiResponse = {
  description: "Unexpected failure (logged; the body never says more)",
  codes: ["INTERNAL"],
  example: "Internal error",
};
export const invalid = (example: string): ApiResponse => ({
  description: "The body is not JSON or fails the schema (`issues` says where)",
  codes: ["INVALID_PAYLOAD"],
  example,
});
export const forbidden = (example: string): ApiResponse => ({
  description: "Signed in, but not allowed",
  codes: ["FORBIDDEN"],
  example,
});
export const notFound = (example: string): ApiResponse => ({
  description: "No such resource",
  codes: ["NOT_FOUND"],
  example,
});
/** The header of answers no cache may keep. */
export const NO_STORE = { "cache-control": "no-store" };

const ERROR_REF = { $ref: "#/components/schemas/Error" };

const SECURITY: Record<ApiRoute["auth"], Record<string, never[]>[]> = {
  none: [],
  bearer: [{ bearerAuth: [] }],
  refresh: [{ refreshCookie: [] }, {}],
  upgrade: [{}, { bearerAuth: [] }],
  metrics: [{ metricsToken: [] }, {}],
};

function responseObject(r: ApiResponse): Record<string, unknown> {
  const out: Record<string, unknown> = { description: r.description };
  if (r.headers) {
    out.headers = Object.fromEntries(
      Object.entries(r.headers).map(([name, description]) => [
        name,
        { description, schema: { type: "string" } },
      ]),
    );
  }
  if (r.codes) {
    const examples = Object.fromEntries(r.codes.map((code) => [code, {
      value: { error: r.example ?? r.description, code },
    }]));
    out.content = { "application/json": { schema: ERROR_REF, examples } };
  } else if (r.engine) {
    out.content = {
      "application/json": {
        schema: { $ref: "#/components/schemas/EngineError" },
        example: r.example ?? { code: 3, message: "Bad request" },
      },
    };
  } else if (r.body) {
    const schema = jsonSchema(r.body);
    out.content = {
      "application/json": { schema, example: r.example ?? exampleOf(schema) },
    };
  } else if (r.media) {
    out.content = { [r.media]: { schema: { type: "string" } } };
  }
  return out;
}

function operation(route: ApiRoute, operationId: string): Record<string, unknown> {
  const parameters: Record<string, unknown>[] = [];
  for (const [, name] of route.path.matchAll(/\{(\w+)\}/g)) {
    parameters.push({
      name,
      in: "path",
      required: true,
      description: route.params?.[name] ?? name,
      schema: { type: "string" },
    });
  }
  if (route.query) {
    const q = jsonSchema(route.query);
    const required = new Set((q.required ?? []) as string[]);
    for (
      const [name, schema] of Object.entries((q.properties ?? {}) as Record<string, JsonSchema>)
    ) {
      parameters.push({ name, in: "query", required: required.has(name), schema });
    }
  }
  for (const p of route.parameters ?? []) parameters.push({ required: false, ...p });

  const responses: Record<string, unknown> = {};
  for (const [status, r] of Object.entries(route.responses)) responses[status] = responseObject(r);
  const op: Record<string, unknown> = {
    operationId,
    tags: [route.tag],
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    security: SECURITY[route.auth],
    ...(route.roles ? { "x-roles": route.roles } : {}),
    ...(parameters.length > 0 ? { parameters } : {}),
    responses,
  };
  if (route.body) {
    const media = route.body.media ?? "application/json";
    const schema = jsonSchema(route.body.schema);
    op.requestBody = {
      required: route.body.required ?? true,
      content: { [media]: { schema, example: route.body.example ?? exampleOf(schema) } },
    };
  }
  return op;
}

/** The document, built once per call from the table (the app builds it once at start-up). */
export function openApiDocument(routes: readonly ApiRoute[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const tags = new Set<string>();
  for (const route of routes) {
    tags.add(route.tag);
    for (const [i, path] of [route.path, ...(route.aliases ?? [])].entries()) {
      const id = i === 0 ? route.id : `${route.id}Alias${i}`;
      (paths[path] ??= {})[route.method] = operation(route, id);
    }
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "telehealth-realtime HTTP API",
      version: "1.0.0",
      description: "Every HTTP route of the server, generated from the zod schemas the routes " +
        "validate with. Errors are `{error, code, issues?}`; the realtime protocol is in " +
        "/api/asyncapi.json and docs/PROTOCOL.md (/api/docs/protocol).",
    },
    servers: [{ url: "/", description: "This server" }],
    tags: [...tags].map((name) => ({ name })),
    paths,
    components: {
      schemas: { Error: jsonSchema(errorBodySchema), EngineError: jsonSchema(engineErrorSchema) },
      securitySchemes: {
        bearerAuth: {
          type: "http",
          scheme: "bearer",
          bearerFormat: "JWT",
          description: "The access token from POST /api/v1/auth/login or /refresh",
        },
        refreshCookie: {
          type: "apiKey",
          in: "cookie",
          name: REFRESH_COOKIE,
          description: "HttpOnly, SameSite=Strict, sent only to /api/v1/auth/refresh; single use",
        },
        metricsToken: {
          type: "http",
          scheme: "bearer",
          description: "METRICS_TOKEN; when it is not set, /metrics answers loopback peers only",
        },
      },
    },
  };
}
