// The Praxis page: routing, the header, sign-in/up, the profile, the board. The room is in
// room.js, progress in progress.js. Everything talks to this origin only (see /config.json).

import { API, APIError, inList } from "./api.js";
import { Socket } from "./realtime.js";
import { h, replace, announce, formatDateTime, field, message, initials } from "./dom.js";
import { parseTimestamp } from "./clock.js";
import { renderRoom } from "./room.js";
import { renderProgress } from "./progress.js";

const main = document.getElementById("main");

/** What every view shares: the API, the socket, the signed-in user's profile, the board. */
export const app = {
  api: null,
  socket: null,
  profile: null,
  profiles: new Map(),
  board: null,
  leaveView: null,
};

async function start() {
  const config = await (await fetch("/config.json")).json();
  app.api = new API(config);
  const wsURL = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${config.realtime_path}`;
  app.socket = new Socket(wsURL, { params: { apikey: config.anon_key } });
  const status = document.getElementById("connection");
  app.socket.on("open", () => {
    status.textContent = "Live";
    status.className = "conn live";
  });
  app.socket.on("close", () => {
    status.textContent = "Reconnecting…";
    status.className = "conn down";
  });
  app.socket.connect();
  // Test and support hooks: drop the connection as a network failure would, or hold it down.
  window.praxisDebug = {
    drop: () => app.socket.drop(),
    offline: () => {
      app.socket.wanted = false;
      app.socket.drop();
    },
    online: () => app.socket.connect(),
  };
  app.api.onSession((session) => {
    // A refreshed token goes to every joined channel; a sign-in or sign-out restarts the board.
    for (const channel of app.socket.channels) {
      if (session && channel.state === "joined") channel.push("access_token", { access_token: session.access_token }).catch(() => {});
    }
  });
  await app.api.resume();
  await loadOwnProfile();
  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[data-link]");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey || link.origin !== location.origin) return;
    event.preventDefault();
    navigate(link.pathname + link.search);
  });
  window.addEventListener("popstate", () => route());
  route();
}

/** Goes to `path` inside the page. */
export function navigate(path) {
  history.pushState(null, "", path);
  route();
}

async function loadOwnProfile() {
  app.profile = null;
  const user = app.api.user;
  if (user) {
    try {
      const rows = await app.api.rest("GET", `profiles?user_id=eq.${user.id}&select=*`);
      app.profile = rows[0] ?? null;
      if (app.profile) app.profiles.set(user.id, app.profile);
    } catch {
      app.profile = null;
    }
  }
  updateNav();
}

function updateNav() {
  const account = document.getElementById("nav-account");
  const progress = document.getElementById("nav-progress");
  const signedIn = Boolean(app.api.user);
  account.textContent = signedIn ? (app.profile ? `${app.profile.first_name} · Account` : "Account") : "Sign in";
  progress.hidden = !signedIn;
}

function route() {
  app.leaveView?.();
  app.leaveView = null;
  const path = location.pathname;
  for (const link of document.querySelectorAll("nav a")) {
    if (link.pathname === path) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const signedIn = Boolean(app.api.user);
  // A first sign-in must create the profile before anything else.
  if (signedIn && !app.profile && path !== "/account") return showView(renderAccount);
  let match;
  if (path === "/" || path === "") return showView(renderBoard);
  if (path === "/account") return showView(renderAccount);
  if (path === "/progress") return showView(signedIn ? (el) => renderProgress(el, app) : renderAccount);
  if ((match = /^\/rooms\/([0-9a-fA-F-]{36})$/.exec(path))) return showView((el) => renderRoom(el, app, match[1].toLowerCase()));
  if ((match = /^\/join\/(.+)$/.exec(path))) return showView((el) => renderJoin(el, decodeURIComponent(match[1])));
  showView((el) => replace(el, h("h1", {}, "Not found"), h("p", {}, h("a", { href: "/", "data-link": true }, "Go to the board"))));
}

function showView(render) {
  main.replaceChildren();
  const result = render(main);
  if (typeof result === "function") app.leaveView = result;
  else if (result && typeof result.then === "function") {
    result.then((cleanup) => {
      if (typeof cleanup === "function") app.leaveView = cleanup;
    });
  }
  main.focus({ preventScroll: true });
}

// MARK: Account

function renderAccount(el) {
  if (app.api.user) return renderProfile(el);
  let mode = "signin";
  const errorBox = h("div", { class: "form-errors" });
  const email = h("input", { type: "email", name: "email", autocomplete: "email", required: true });
  const password = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true, minlength: 6 });
  const submit = h("button", { type: "submit", class: "primary" }, "Sign in");
  const heading = h("h1", {}, "Sign in");
  const switcher = h("button", { type: "button", class: "link" }, "New here? Create an account");
  const form = h("form", { class: "card narrow", novalidate: true },
    heading, errorBox, field("Email", email), field("Password", password, "At least 6 characters."), submit, switcher);
  switcher.addEventListener("click", () => {
    mode = mode === "signin" ? "signup" : "signin";
    heading.textContent = mode === "signin" ? "Sign in" : "Create an account";
    submit.textContent = mode === "signin" ? "Sign in" : "Sign up";
    switcher.textContent = mode === "signin" ? "New here? Create an account" : "Have an account? Sign in";
    password.autocomplete = mode === "signin" ? "current-password" : "new-password";
    errorBox.replaceChildren();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errorBox.replaceChildren();
    if (!email.value.trim() || !password.value) {
      errorBox.append(message("Enter your email and password."));
      return;
    }
    submit.disabled = true;
    try {
      if (mode === "signin") await app.api.signIn(email.value.trim(), password.value);
      else await app.api.signUp(email.value.trim(), password.value);
      await loadOwnProfile();
      announce("Signed in.");
      if (!app.profile) navigate("/account");
      else navigate(new URLSearchParams(location.search).get("next") ?? "/");
    } catch (error) {
      errorBox.append(message(error instanceof APIError ? error.message : String(error)));
      submit.disabled = false;
    }
  });
  replace(el, form);
  email.focus();
}

function renderProfile(el) {
  const profile = app.profile;
  const errorBox = h("div", { class: "form-errors" });
  const first = h("input", { name: "first_name", autocomplete: "given-name", required: true, maxlength: 100, value: profile?.first_name ?? "" });
  const last = h("input", { name: "last_name", autocomplete: "family-name", required: true, maxlength: 100, value: profile?.last_name ?? "" });
  const level = h("input", { name: "training_level", required: true, maxlength: 100, value: profile?.training_level ?? "", list: "levels" });
  const levels = h("datalist", { id: "levels" }, ["Medical student", "Foundation doctor", "Resident", "Registrar", "Consultant", "Nurse", "Pharmacist"].map((v) => h("option", { value: v })));
  const avatar = h("input", { name: "avatar", type: "url", maxlength: 2048, value: profile?.avatar ?? "", placeholder: "https://…" });
  const save = h("button", { type: "submit", class: "primary" }, profile ? "Save profile" : "Create profile");
  const signOut = h("button", { type: "button", class: "secondary" }, "Sign out");
  signOut.addEventListener("click", async () => {
    await app.api.signOut();
    app.profile = null;
    updateNav();
    announce("Signed out.");
    navigate("/");
  });
  const form = h("form", { class: "card narrow" },
    h("h1", {}, profile ? "Your profile" : "Create your profile"),
    profile ? null : h("p", {}, "Peers see your name and training level on the board."),
    h("p", { class: "muted" }, `Signed in as ${app.api.user.email}`),
    errorBox, field("First name", first), field("Last name", last), field("Training level", level), levels,
    field("Avatar URL (optional)", avatar), h("div", { class: "actions" }, save, signOut));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errorBox.replaceChildren();
    const body = {
      first_name: first.value.trim(), last_name: last.value.trim(), training_level: level.value.trim(), avatar: avatar.value.trim() || null,
    };
    if (!body.first_name || !body.last_name || !body.training_level) {
      errorBox.append(message("First name, last name and training level are required."));
      return;
    }
    save.disabled = true;
    try {
      const rows = profile
        ? await app.api.rest("PATCH", `profiles?user_id=eq.${app.api.user.id}`, body)
        : await app.api.rest("POST", "profiles", body);
      app.profile = rows[0];
      app.profiles.set(app.api.user.id, app.profile);
      updateNav();
      announce("Profile saved.");
      navigate("/");
    } catch (error) {
      errorBox.append(message(error.message));
      save.disabled = false;
    }
  });
  replace(el, form);
  first.focus();
}

// MARK: Board

/** Fetches the profiles of `ids` not yet known (host names on the board). */
export async function loadProfiles(ids) {
  const missing = [...new Set(ids.filter((id) => id && !app.profiles.has(id)))];
  if (!missing.length) return;
  const rows = await app.api.rest("GET", `profiles?select=*&user_id=${inList(missing)}`).catch(() => []);
  for (const row of rows) app.profiles.set(row.user_id, row);
}

/** The board's rows, live from postgres_changes on practice_rooms (snapshot, then resume). */
class Board {
  constructor(onChange) {
    this.rows = new Map();
    this.epoch = null;
    this.offset = null;
    this.onChange = onChange;
    this.channel = app.socket.channel("realtime:board", () => ({
      config: {
        postgres_changes: [{ event: "*", schema: "public", table: "practice_rooms" }],
        praxis: this.epoch !== null ? { resume: { epoch: this.epoch, offset: this.offset } } : { snapshot: true },
      },
      access_token: app.api.accessToken ?? app.api.config.anon_key,
    }));
    this.channel.onJoin((response) => {
      const praxis = response.praxis ?? {};
      if (praxis.snapshot) {
        this.rows = new Map(praxis.snapshot.filter((r) => r._table === "practice_rooms").map((r) => [r.id, r]));
      }
      this.epoch = praxis.epoch ?? this.epoch;
      if (typeof praxis.offset === "number") this.offset = praxis.offset;
      this.changed(null);
    });
    this.channel.on("postgres_changes", (payload) => {
      const data = payload.data;
      if (!data || data.table !== "practice_rooms") return;
      if (typeof data.offset === "number") this.offset = Math.max(this.offset ?? 0, data.offset);
      if (data.type === "DELETE") this.rows.delete(data.old_record.id);
      else this.rows.set(data.record.id, data.record);
      this.changed(data);
    });
    this.joined = this.channel.join();
  }

  changed(change) {
    const ids = [...this.rows.values()].flatMap((r) => [r.host_id, r.guest_id]);
    loadProfiles(ids).then(() => this.onChange(change));
  }

  close() {
    this.channel.leave();
  }
}

function ensureBoard() {
  // The board acts as the signed-in user (their private rooms too); another user, another board.
  const who = app.api.user?.id ?? null;
  if (app.board && app.board.who !== who) {
    app.board.close();
    app.board = null;
  }
  if (!app.board) {
    app.board = new Board(() => app.boardListener?.());
    app.board.who = who;
  }
  return app.board;
}

const STAGES = { 1: "Round 1", 2: "Round 2", 3: "Complete" };

function personLabel(id) {
  const p = app.profiles.get(id);
  return p ? `${p.first_name} ${p.last_name}` : "Unknown";
}

function renderBoard(el) {
  const board = ensureBoard();
  const me = app.api.user?.id ?? null;
  const list = h("ul", { class: "rooms", "aria-label": "Upcoming rooms" });
  const mine = h("ul", { class: "rooms", "aria-label": "My rooms" });
  const notice = h("div", { class: "board-notice" });
  const sections = [h("h1", {}, "Practice rooms")];
  if (me) {
    sections.push(h("section", { "aria-labelledby": "mine-h" }, h("h2", { id: "mine-h" }, "My rooms"), mine), renderCreateRoom(notice));
  } else {
    sections.push(h("p", { class: "lead" }, "Practise OET-style consultations with a peer. ",
      h("a", { href: "/account", "data-link": true }, "Sign in"), " to take a seat or host a room."));
  }
  sections.push(notice, h("section", { "aria-labelledby": "board-h" }, h("h2", { id: "board-h" }, "Upcoming public rooms"), list));
  replace(el, ...sections);

  const draw = () => {
    const now = Date.now();
    const all = [...board.rows.values()].sort((a, b) => parseTimestamp(a.datetime_utc) - parseTimestamp(b.datetime_utc));
    const upcoming = all.filter((r) => !r.private && parseTimestamp(r.datetime_utc) > now - 2 * 3600 * 1000);
    replace(list, upcoming.length ? upcoming.map((r) => roomItem(r, me, notice)) : h("li", { class: "empty" }, "No upcoming rooms yet."));
    if (me) {
      const own = all.filter((r) => r.host_id === me || r.guest_id === me);
      replace(mine, own.length ? own.map((r) => roomItem(r, me, notice)) : h("li", { class: "empty" }, "You have no rooms yet: host one or take a free seat."));
    }
  };
  app.boardListener = draw;
  draw();
  return () => {
    app.boardListener = null;
  };
}

function roomItem(room, me, notice) {
  const host = app.profiles.get(room.host_id);
  const when = parseTimestamp(room.datetime_utc);
  const isHost = me !== null && room.host_id === me;
  const isGuest = me !== null && room.guest_id === me;
  const seatFree = !room.guest_id;
  const actions = [];
  if (isHost || isGuest) actions.push(h("a", { class: "button primary", href: `/rooms/${room.id}`, "data-link": true }, "Open room"));
  if (me && !isHost && seatFree && room.stage === 1) {
    actions.push(h("button", { type: "button", class: "primary", onclick: () => takeSeat(room, notice) }, "Take the seat"));
  }
  if (isGuest && room.stage === 1 && !room.first_round_id) {
    actions.push(h("button", { type: "button", class: "secondary", onclick: () => giveBack(room, notice) }, "Give the seat back"));
  }
  if (isHost && room.stage === 1 && !room.first_round_id) {
    actions.push(h("button", { type: "button", class: "danger", onclick: () => deleteRoom(room, notice) }, "Delete room"));
  }
  if (isHost && room.private) {
    const link = `${location.origin}/join/${encodeURIComponent(room.room_url)}`;
    actions.push(h("label", { class: "share" }, "Link to share ", h("input", { readonly: true, value: link, onfocus: (e) => e.target.select() })));
  }
  return h("li", { class: "room", "data-room-id": room.id, "data-stage": room.stage },
    h("div", { class: "room-main" },
      h("p", { class: "when" }, h("time", { datetime: room.datetime_utc }, formatDateTime(when))),
      h("p", { class: "what" }, h("span", { class: `tag ${room.type.toLowerCase()}` }, room.type),
        room.private ? h("span", { class: "tag private" }, "Private") : null,
        h("span", { class: "stage" }, STAGES[room.stage] ?? `Stage ${room.stage}`)),
      h("p", { class: "who" }, h("span", { class: "avatar", "aria-hidden": "true" }, initials(host)),
        h("span", {}, h("span", { class: "host" }, `Host: ${host ? `${host.first_name} ${host.last_name}` : "…"}${isHost ? " (you)" : ""}`),
          host ? h("span", { class: "level" }, ` · ${host.training_level}`) : null)),
      h("p", { class: `seat ${seatFree ? "free" : "taken"}` },
        seatFree ? "Guest seat free" : isGuest ? "You are the guest" : `Guest: ${personLabel(room.guest_id)}`)),
    actions.length ? h("div", { class: "room-actions" }, actions) : null);
}

async function takeSeat(room, notice, byLink = false) {
  replace(notice);
  try {
    const filter = byLink ? `room_url=eq.${encodeURIComponent(room.room_url)}` : `id=eq.${room.id}`;
    const rows = await app.api.rest("PATCH", `practice_rooms?${filter}&guest_id=is.null`, { guest_id: app.api.user.id });
    if (!rows.length) {
      replace(notice, message("Someone else took this seat a moment ago."));
      return false;
    }
    app.board?.rows.set(rows[0].id, rows[0]);
    announce("You took the guest seat.");
    navigate(`/rooms/${room.id}`);
    return true;
  } catch (error) {
    replace(notice, message(error.message));
    return false;
  }
}

async function giveBack(room, notice) {
  replace(notice);
  try {
    await app.api.rest("PATCH", `practice_rooms?id=eq.${room.id}`, { guest_id: null });
    // A private room leaves this user's view (the feed sends nothing for it): drop it here.
    if (room.private) app.board?.rows.delete(room.id);
    else app.board?.rows.set(room.id, { ...room, guest_id: null });
    app.boardListener?.();
    replace(notice, message("You gave the seat back.", "ok"));
    announce("You gave the seat back.");
  } catch (error) {
    replace(notice, message(error.message));
  }
}

async function deleteRoom(room, notice) {
  replace(notice);
  try {
    await app.api.rest("DELETE", `practice_rooms?id=eq.${room.id}`);
    app.board?.rows.delete(room.id);
    app.boardListener?.();
    replace(notice, message("Room deleted.", "ok"));
    announce("Room deleted.");
  } catch (error) {
    replace(notice, message(error.message));
  }
}

function localInputValue(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

function renderCreateRoom(notice) {
  const soon = new Date(Date.now() + 3600 * 1000);
  soon.setMinutes(0, 0, 0);
  const when = h("input", { type: "datetime-local", name: "datetime", required: true, value: localInputValue(soon) });
  const type = h("select", { name: "type" }, h("option", { value: "Clinical" }, "Clinical"), h("option", { value: "Communication" }, "Communication"));
  const isPrivate = h("input", { type: "checkbox", name: "private", id: "create-private" });
  const errors = h("div", { class: "form-errors" });
  const submit = h("button", { type: "submit", class: "primary" }, "Create room");
  const form = h("form", { class: "card create", "aria-labelledby": "create-h" },
    h("h2", { id: "create-h" }, "Host a room"), errors,
    h("div", { class: "row" }, field("Date and time (your time zone)", when), field("Type", type)),
    h("div", { class: "check" }, isPrivate, h("label", { for: "create-private" }, "Private: only people with the link can find it")),
    submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errors.replaceChildren();
    const moment = new Date(when.value);
    if (Number.isNaN(moment.getTime())) {
      errors.append(message("Choose a date and time."));
      return;
    }
    submit.disabled = true;
    try {
      const url = `r-${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
      const rows = await app.api.rest("POST", "practice_rooms", {
        datetime_utc: moment.toISOString(), type: type.value, private: isPrivate.checked, room_url: url,
      });
      const room = rows[0];
      app.board?.rows.set(room.id, room);
      app.boardListener?.();
      const text = room.private
        ? `Private room created. Share this link: ${location.origin}/join/${room.room_url}`
        : "Room created: it is on the board.";
      replace(notice, message(text, "ok"));
      announce(text);
    } catch (error) {
      errors.append(message(error.message));
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

async function renderJoin(el, link) {
  const notice = h("div");
  replace(el, h("h1", {}, "Private room"), notice);
  let rows;
  try {
    rows = await app.api.rest("GET", `practice_rooms?select=*&room_url=eq.${encodeURIComponent(link)}`);
  } catch (error) {
    replace(notice, message(error.message));
    return;
  }
  const room = rows[0];
  if (!room) {
    replace(notice, message("No room has this link. Check that you copied all of it."));
    return;
  }
  await loadProfiles([room.host_id, room.guest_id]);
  const me = app.api.user?.id ?? null;
  if (me && (room.host_id === me || room.guest_id === me)) {
    navigate(`/rooms/${room.id}`);
    return;
  }
  const host = app.profiles.get(room.host_id);
  const parts = [
    h("p", {}, `${room.type} room hosted by ${host ? `${host.first_name} ${host.last_name} (${host.training_level})` : "a peer"}, `,
      h("time", { datetime: room.datetime_utc }, formatDateTime(parseTimestamp(room.datetime_utc))), "."),
  ];
  if (room.guest_id) parts.push(message("The guest seat is already taken."));
  else if (!me) parts.push(h("p", {}, h("a", { href: `/account?next=${encodeURIComponent(location.pathname)}`, "data-link": true }, "Sign in"), " to take the guest seat."));
  else parts.push(h("button", { type: "button", class: "primary", onclick: () => takeSeat(room, notice, true) }, "Take the guest seat"));
  replace(el, h("h1", {}, "Private room"), h("div", { class: "card" }, parts), notice);
}

start().catch((error) => {
  replace(main, message(`Praxis could not start: ${error.message}`));
});
