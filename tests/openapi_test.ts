// deno-lint-ignore-file no-import-prefix -- test tools stay out of the import map: `deno task`
// installs every package there, and `deno task dev` must not download them (tests/dx_test.ts).
/**
 * GET /api/openapi.json: a valid OpenAPI 3.1 document (checked by an npm
 * validator), listing exactly the routes the live Hono app registers, whose
 * documented answers are what the routes really send.
 */

import assert from "node:assert/strict";
import { Validator } from "npm:@seriousme/openapi-schema-validator@2.11.0";
import type { z } from "zod";
import { API_ROUTES } from "../routes/openapi_routes.ts";
import { errorBodySchema } from "../routes/http_schemas.ts";
import { startServer, type TestServer } from "./harness.ts";

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/**
 * `METHOD /path` for every route the app registers, in OpenAPI's path form. Middleware
 * (`app.use`: method ALL on a `*` path) is not a route; a handler stacked behind middleware
 * appears several times, once is enough. A parameter restricted to literal alternatives
 * (`/:file{(client\.js|protocol\.js)}`) is one route per alternative.
 */
function liveRoutes(srv: TestServer): Set<string> {
  const out = new Set<string>();
  for (const r of srv.app.hono.routes) {
    if (r.method === "ALL" && r.path.endsWith("*")) continue;
    const alternatives = /^(.*):\w+\{\(((?:[\w-]|\\\.)+(?:\|(?:[\w-]|\\\.)+)*)\)\}$/.exec(r.path);
    const paths = alternatives
      ? alternatives[2].split("|").map((alt) => alternatives[1] + alt.replaceAll("\\.", "."))
      : [r.path];
    for (const p of paths) out.add(`${r.method} ${p.replace(/:(\w+)/g, "{$1}")}`);
  }
  return out;
}

function documentedRoutes(doc: { paths: Record<string, Record<string, unknown>> }): Set<string> {
  const out = new Set<string>();
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const m of METHODS) if (m in item) out.add(`${m.toUpperCase()} ${path}`);
  }
  return out;
}

async function openapi(srv: TestServer) {
  const res = await fetch(`${srv.url}/api/openapi.json`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /application\/json/);
  return await res.json();
}

Deno.test("GET /api/openapi.json is valid OpenAPI 3.1 and documents exactly the live routes", async () => {
  const srv = await startServer();
  try {
    const doc = await openapi(srv);
    assert.equal(doc.openapi, "3.1.0");
    const validator = new Validator();
    const result = await validator.validate(doc);
    assert.deepEqual(result, { valid: true }, JSON.stringify(result.errors, null, 1));
    assert.equal(validator.version, "3.1");

    const live = liveRoutes(srv);
    const documented = documentedRoutes(doc);
    assert.deepEqual([...live].filter((r) => !documented.has(r)).sort(), [], "undocumented");
    assert.deepEqual([...documented].filter((r) => !live.has(r)).sort(), [], "not registered");
    for (const must of ["GET /ws", "GET /socket.io/", "GET /api/docs", "GET /health"]) {
      assert.ok(live.has(must), must);
    }

    const ids = Object.values(doc.paths as Record<string, Record<string, { operationId: string }>>)
      .flatMap((item) => Object.values(item).map((op) => op.operationId));
    assert.equal(new Set(ids).size, ids.length, "operationIds are unique");
  } finally {
    await srv.close();
  }
});

Deno.test("OpenAPI: bodies come from the routes' own zod schemas; auth, roles and errors are declared", async () => {
  const srv = await startServer();
  try {
    const doc = await openapi(srv);
    const login = doc.paths["/api/v1/auth/login"].post;
    const body = login.requestBody.content["application/json"].schema;
    assert.deepEqual(body.required, ["email", "password"]);
    assert.equal(body.properties.email.maxLength, 254);
    assert.deepEqual(login.security, []);
    assert.deepEqual(
      Object.keys(login.responses["200"].content["application/json"].schema.properties),
      ["token", "expiresAt", "user"],
    );
    assert.equal(
      login.responses["401"].content["application/json"].schema.$ref,
      "#/components/schemas/Error",
    );
    const error = doc.components.schemas.Error;
    assert.deepEqual(error.required, ["error", "code"]);
    assert.ok(error.properties.code.enum.includes("LIMIT_EXCEEDED"));

    const visit = doc.paths["/api/v1/visits"].post;
    assert.deepEqual(visit.security, [{ bearerAuth: [] }]);
    assert.deepEqual(visit["x-roles"], ["doctor", "nurse", "admin"]);
    assert.equal(
      visit.requestBody.content["application/json"].schema.properties.clinicianIds.maxItems,
      20,
    );
    const audit = doc.paths["/api/v1/audit"].get;
    const limit = audit.parameters.find((p: { name: string }) => p.name === "limit");
    assert.equal(limit.in, "query");
    assert.equal(limit.required, false);
    assert.deepEqual(doc.paths["/api/v1/auth/refresh"].post.security, [{ refreshCookie: [] }, {}]);
    assert.deepEqual(doc.components.securitySchemes.refreshCookie, {
      type: "apiKey",
      in: "cookie",
      name: "th_refresh",
      description: doc.components.securitySchemes.refreshCookie.description,
    });
    assert.equal(doc.components.securitySchemes.bearerAuth.bearerFormat, "JWT");
    const ws = doc.paths["/ws"].get;
    for (const status of ["101", "400", "401", "403", "426", "429"]) {
      assert.ok(status in ws.responses, `/ws ${status}`);
    }
    assert.equal(doc.paths["/api/v1/visits/{id}"].get.parameters[0].in, "path");
  } finally {
    await srv.close();
  }
});

Deno.test("OpenAPI: every example in the document fits the zod schema it illustrates", async () => {
  const srv = await startServer();
  try {
    const doc = await openapi(srv);
    let checked = 0;
    for (const route of API_ROUTES) {
      const op = doc.paths[route.path][route.method];
      const media = route.body?.media ?? "application/json";
      if (route.body && media === "application/json") {
        const example = op.requestBody.content[media].example;
        assert.ok(
          route.body.schema.safeParse(example).success,
          `${route.id} body ${JSON.stringify(example)}`,
        );
        checked++;
      }
      for (const [status, r] of Object.entries(route.responses)) {
        const content = op.responses[status].content?.["application/json"];
        if (r.body) {
          const parsed = r.body.safeParse(content.example);
          assert.ok(parsed.success, `${route.id} ${status}: ${parsed.error?.message}`);
          checked++;
        } else if (r.codes) {
          for (const e of Object.values(content.examples as Record<string, { value: unknown }>)) {
            assert.ok(errorBodySchema.safeParse(e.value).success, `${route.id} ${status}`);
            checked++;
          }
        }
      }
    }
    assert.ok(checked > 50, `${checked} examples`);
  } finally {
    await srv.close();
  }
});

/** The table row of a live request, and the zod schema of the answer it got. */
function documentedAnswer(method: string, path: string, status: number): z.ZodType | undefined {
  const route = API_ROUTES.find((r) =>
    r.method === method.toLowerCase() &&
    new RegExp(`^${r.path.replace(/\{\w+\}/g, "[^/]+")}$`).test(path)
  );
  assert.ok(route, `${method} ${path} is in the table`);
  const answer = route.responses[status];
  assert.ok(answer, `${method} ${path} documents ${status}`);
  return answer.codes ? errorBodySchema : answer.body;
}

Deno.test("OpenAPI: what the routes really answer fits the documented schemas", async () => {
  const srv = await startServer();
  try {
    await srv.addUser("admin-1", "admin");
    const admin = await srv.login("admin-1@example.com");
    const doctor = await srv.login("doctor@example.com");
    const call = async (method: string, path: string, token?: string, body?: unknown) => {
      const res = await fetch(`${srv.url}${path}`, {
        method,
        headers: {
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const schema = documentedAnswer(method, path.split("?")[0], res.status);
      const json = res.status === 204 ? null : await res.json();
      if (schema) {
        const parsed = schema.safeParse(json);
        assert.ok(parsed.success, `${method} ${path} ${res.status}: ${JSON.stringify(json)}`);
      }
      return { status: res.status, json };
    };
    assert.equal(
      (await call("POST", "/api/v1/auth/login", undefined, {
        email: "patient@example.com",
        password: "password123",
      })).status,
      200,
    );
    assert.equal((await call("POST", "/api/v1/auth/login", undefined, { email: 1 })).status, 400);
    assert.equal((await call("GET", "/api/v1/auth/me", doctor)).status, 200);
    assert.equal((await call("GET", "/api/v1/auth/me")).status, 401);
    assert.equal((await call("POST", "/api/v1/auth/refresh")).status, 204);
    const created = await call("POST", "/api/v1/visits", doctor, {
      patientId: "patient-1",
      clinicianIds: ["doctor-1"],
      title: "Follow-up",
      scheduledAt: "2026-05-04T09:30:00+02:00",
    });
    assert.equal(created.status, 201);
    const visitId = (created.json as { visit: { id: string } }).visit.id;
    assert.equal((await call("GET", `/api/v1/visits/${visitId}`, doctor)).status, 200);
    assert.equal(
      (await call("PATCH", `/api/v1/visits/${visitId}`, doctor, { title: "Check-up" })).status,
      200,
    );
    assert.equal((await call("GET", `/api/v1/visits/${visitId}`, admin)).status, 200);
    assert.equal((await call("POST", "/api/v1/holds", admin, { visitId })).status, 201);
    const holds = await call("GET", "/api/v1/holds", admin);
    const holdId = (holds.json as { holds: { id: string }[] }).holds[0].id;
    assert.equal((await call("DELETE", `/api/v1/holds/${holdId}`, admin)).status, 200);
    assert.equal((await call("DELETE", `/api/v1/holds/${holdId}`, admin)).status, 404);
    assert.equal((await call("GET", "/api/v1/audit?limit=5", admin)).status, 200);
    assert.equal((await call("GET", "/api/v1/audit", doctor)).status, 403);
    assert.equal(
      (await call("POST", "/api/v1/notifications", admin, {
        userId: "patient-1",
        title: "Lab results",
        message: "Ready",
      })).status,
      201,
    );
    assert.equal(
      (await call("POST", "/api/v1/realtime/emit", admin, {
        target: { all: true },
        event: "system:maintenance",
      })).status,
      202,
    );
    assert.equal((await call("GET", "/health")).status, 200);
    assert.equal((await call("GET", "/api/docs")).status, 200);
    assert.equal((await call("GET", "/ws")).status, 426);
    assert.equal((await call("POST", "/api/v1/auth/logout", doctor)).status, 200);
  } finally {
    await srv.close();
  }
});
