// The page's auth and data helpers (assets/api.js): headers, error messages, refresh.
import { test } from "node:test";
import assert from "node:assert/strict";
import { API, authErrorMessage, inList } from "../../Sources/PraxisWeb/Resources/web/assets/api.js";

const config = { anon_key: "ANON", auth_path: "/auth/v1", rest_path: "/rest/v1", realtime_path: "/realtime/v1/websocket" };

function memoryStorage() {
  const map = new Map();
  return { getItem: (k) => map.get(k) ?? null, setItem: (k, v) => map.set(k, v), removeItem: (k) => map.delete(k) };
}

function response(status, body, headers = {}) {
  return { ok: status >= 200 && status < 300, status, headers: { get: (name) => headers[name] ?? null }, text: async () => (body === undefined ? "" : JSON.stringify(body)) };
}

function session(n) {
  return { access_token: `access-${n}`, refresh_token: `refresh-${n}`, expires_at: Math.floor(Date.now() / 1000) + 3600, user: { id: "u1", email: "a@b.c" } };
}

test("every auth API error has a message for people", () => {
  assert.equal(authErrorMessage(400, { error_code: "invalid_credentials", msg: "Invalid login credentials" }), "Wrong email or password.");
  assert.equal(authErrorMessage(429, { error_code: "over_request_rate_limit", msg: "… try again in 53 seconds" }, "53"),
    "Too many failed sign-in attempts. Try again in 53 seconds.");
  assert.equal(authErrorMessage(429, { error_code: "over_request_rate_limit", msg: "Too many failed sign-in attempts; try again in 7 seconds" }, null),
    "Too many failed sign-in attempts. Try again in 7 seconds.");
  assert.match(authErrorMessage(422, { error_code: "user_already_exists" }), /already exists/);
  assert.match(authErrorMessage(422, { error_code: "weak_password" }), /at least 6/);
  assert.match(authErrorMessage(400, { error_code: "validation_failed", msg: "email is not valid" }), /email is not valid/);
  assert.match(authErrorMessage(0, null), /cannot be reached/);
  assert.equal(authErrorMessage(500, { error_code: "unexpected_failure", msg: "boom" }), "boom");
});

test("data requests carry the anon key and the user's bearer; a 401 refreshes once and retries", async () => {
  const calls = [];
  let n = 1;
  const fetch = async (url, init) => {
    calls.push({ url, init });
    if (url.startsWith("/auth/v1/token?grant_type=refresh_token")) {
      assert.deepEqual(JSON.parse(init.body), { refresh_token: "refresh-1" });
      n += 1;
      return response(200, session(n));
    }
    if (init.headers.Authorization === "Bearer access-1") return response(401, { code: "PGRST301", message: "JWT expired" });
    return response(200, [{ id: 1 }]);
  };
  const api = new API(config, { storage: memoryStorage(), fetch });
  api.setSession(session(1));
  const rows = await api.rest("GET", "profiles?select=*");
  assert.deepEqual(rows, [{ id: 1 }]);
  assert.equal(calls[0].init.headers.apikey, "ANON");
  assert.equal(calls[0].init.headers.Authorization, "Bearer access-1");
  assert.equal(calls[2].init.headers.Authorization, "Bearer access-2");
  assert.equal(api.session.refresh_token, "refresh-2");
  clearTimeout(api.refreshTimer);
});

test("without a session the anon key is the bearer; errors carry the server's message", async () => {
  const fetch = async (url, init) => {
    assert.equal(init.headers.Authorization, "Bearer ANON");
    return response(403, { code: "42501", message: "the guest seat can be taken only when free, and only by the caller" });
  };
  const api = new API(config, { storage: memoryStorage(), fetch });
  await assert.rejects(api.rest("PATCH", "practice_rooms?id=eq.x", { guest_id: "y" }), (e) => e.status === 403 && /guest seat/.test(e.message));
});

test("a refused refresh token signs out here too", async () => {
  const fetch = async () => response(400, { error_code: "refresh_token_already_used", msg: "Invalid Refresh Token: Already Used" });
  const storage = memoryStorage();
  const api = new API(config, { storage, fetch });
  api.setSession(session(1));
  await assert.rejects(api.refresh(), /session has ended/);
  assert.equal(api.session, null);
  assert.equal(storage.getItem("praxis.session"), null);
});

test("sign-in errors reach the caller with the Retry-After seconds", async () => {
  const fetch = async () => response(429, { code: 429, error_code: "over_request_rate_limit", msg: "Too many failed sign-in attempts; try again in 53 seconds" }, { "Retry-After": "53" });
  const api = new API(config, { storage: memoryStorage(), fetch });
  await assert.rejects(api.signIn("a@b.c", "x"), (e) => e.code === "over_request_rate_limit" && e.retryAfter === 53 && /53 seconds/.test(e.message));
});

test("in lists quote their values", () => {
  assert.equal(inList(["a", 'b"c', "d,e"]), 'in.("a","b\\"c","d,e")');
});
