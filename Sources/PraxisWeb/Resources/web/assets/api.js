// The auth (/auth/v1) and data (/rest/v1) APIs from the page: every request carries the anon key
// as `apikey` and, when signed in, the user's access token as the bearer. The session (tokens)
// is kept in localStorage and refreshed a minute before it expires (and once after a 401).

/** An API error with a message meant for people. */
export class APIError extends Error {
  constructor(message, { status = 0, code = null, retryAfter = null } = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

/** The message a person sees for an auth API error (`{code, error_code, msg}`). */
export function authErrorMessage(status, body, retryAfter) {
  const code = body?.error_code ?? null;
  switch (code) {
    case "invalid_credentials":
      return "Wrong email or password.";
    case "over_request_rate_limit": {
      const seconds = Number(retryAfter) || Number(/(\d+) seconds/.exec(body?.msg ?? "")?.[1]);
      return seconds
        ? `Too many failed sign-in attempts. Try again in ${seconds} seconds.`
        : "Too many failed sign-in attempts. Try again in a minute.";
    }
    case "user_already_exists":
    case "email_exists":
      return "An account with this email already exists. Sign in instead.";
    case "weak_password":
      return "The password is too short: use at least 6 characters.";
    case "validation_failed":
      return body?.msg ? `Please check the form: ${body.msg}` : "Please check the form.";
    case "refresh_token_already_used":
    case "refresh_token_not_found":
      return "Your session has ended. Please sign in again.";
    default:
      if (status === 0) return "The server cannot be reached. Check your connection and try again.";
      return body?.msg ?? body?.message ?? `The server answered ${status}.`;
  }
}

/** The message a person sees for a data API error (`{code, message, details, hint}`). */
export function dataErrorMessage(status, body) {
  if (status === 401) return "Please sign in first.";
  if (status === 0) return "The server cannot be reached. Check your connection and try again.";
  return body?.message ?? `The server answered ${status}.`;
}

const SESSION_KEY = "praxis.session";

export class API {
  /** `config` is `/config.json`: anon_key, auth_path, rest_path, realtime_path. */
  constructor(config, { storage = globalThis.localStorage, fetch = globalThis.fetch.bind(globalThis) } = {}) {
    this.config = config;
    this.storage = storage;
    this.fetch = fetch;
    this.session = null;
    this.refreshTimer = null;
    this.refreshing = null;
    this.listeners = [];
    try {
      this.session = JSON.parse(storage?.getItem(SESSION_KEY) ?? "null");
    } catch {
      this.session = null;
    }
  }

  /** `callback(session)` whenever the session changes (sign-in, refresh, sign-out). */
  onSession(callback) {
    this.listeners.push(callback);
  }

  get user() {
    return this.session?.user ?? null;
  }

  get accessToken() {
    return this.session?.access_token ?? null;
  }

  setSession(session) {
    this.session = session;
    if (session) this.storage?.setItem(SESSION_KEY, JSON.stringify(session));
    else this.storage?.removeItem(SESSION_KEY);
    clearTimeout(this.refreshTimer);
    if (session?.expires_at) {
      const ms = Math.max(5000, session.expires_at * 1000 - Date.now() - 60000);
      this.refreshTimer = setTimeout(() => this.refresh().catch(() => {}), Math.min(ms, 2 ** 31 - 1));
    }
    for (const callback of this.listeners) callback(session);
  }

  /** Starts the refresh timer for a stored session (or refreshes it at once when expired). */
  async resume() {
    if (!this.session) return;
    if (this.session.expires_at * 1000 - Date.now() < 60000) {
      await this.refresh().catch(() => {});
    } else {
      this.setSession(this.session);
    }
  }

  headers(extra = {}) {
    return {
      apikey: this.config.anon_key,
      Authorization: `Bearer ${this.accessToken ?? this.config.anon_key}`,
      ...extra,
    };
  }

  async auth(path, body, { method = "POST", token = null } = {}) {
    let response;
    try {
      response = await this.fetch(`${this.config.auth_path}${path}`, {
        method,
        headers: {
          apikey: this.config.anon_key,
          "Content-Type": "application/json",
          ...(token ? { Authorization: `Bearer ${token}` } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new APIError(authErrorMessage(0, null), { status: 0 });
    }
    const text = await response.text();
    const json = text ? safeJSON(text) : null;
    if (!response.ok) {
      const retryAfter = response.headers.get("Retry-After");
      throw new APIError(authErrorMessage(response.status, json, retryAfter), {
        status: response.status, code: json?.error_code ?? null, retryAfter: retryAfter ? Number(retryAfter) : null,
      });
    }
    return json;
  }

  async signUp(email, password) {
    this.setSession(await this.auth("/signup", { email, password }));
    return this.session;
  }

  async signIn(email, password) {
    this.setSession(await this.auth("/token?grant_type=password", { email, password }));
    return this.session;
  }

  async signOut() {
    const token = this.accessToken;
    this.setSession(null);
    if (token) await this.auth("/logout?scope=local", undefined, { token }).catch(() => {});
  }

  /** Rotates the refresh token; a refused one ends the session here too. */
  refresh() {
    if (!this.session?.refresh_token) return Promise.reject(new APIError("not signed in"));
    if (!this.refreshing) {
      const refreshToken = this.session.refresh_token;
      this.refreshing = this.auth("/token?grant_type=refresh_token", { refresh_token: refreshToken })
        .then((session) => this.setSession(session))
        .catch((error) => {
          if (error.status >= 400 && error.status < 500) this.setSession(null);
          throw error;
        })
        .finally(() => {
          this.refreshing = null;
        });
    }
    return this.refreshing;
  }

  /**
   * A data API request: `rest("GET", "practice_rooms?select=*")`. Returns the JSON body.
   * A 401 with a session refreshes the token once and tries again.
   */
  async rest(method, path, body, { prefer = "return=representation", retried = false } = {}) {
    let response;
    try {
      response = await this.fetch(`${this.config.rest_path}/${path}`, {
        method,
        headers: this.headers({ "Content-Type": "application/json", ...(method === "GET" ? {} : { Prefer: prefer }) }),
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new APIError(dataErrorMessage(0, null), { status: 0 });
    }
    if (response.status === 401 && this.session && !retried) {
      await this.refresh().catch(() => {});
      if (this.session) return this.rest(method, path, body, { prefer, retried: true });
    }
    const text = await response.text();
    const json = text ? safeJSON(text) : null;
    if (!response.ok) {
      throw new APIError(dataErrorMessage(response.status, json), { status: response.status, code: json?.code ?? null });
    }
    return json;
  }
}

function safeJSON(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** A PostgREST `in.(…)` list, values quoted. */
export function inList(values) {
  return `in.(${values.map((v) => `"${String(v).replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`).join(",")})`;
}
