// The practice room page (/rooms/<id>): the room channel (protocol/room.md), its commands,
// the countdown from the server's clock, the brief, the live transcript, presence, resume after
// a dropped connection, and at stage 3 both rounds with their assessments.

import { h, replace, announce, formatDateTime, message } from "./dom.js";
import { ServerClock, formatSeconds, parseTimestamp } from "./clock.js";
import { RoomState } from "./roomstate.js";
import { PushError } from "./realtime.js";
import { loadProfiles, navigate } from "./app.js";

const PHASES = { waiting: "Waiting to start", preparation: "Preparation", roleplay: "Role-play", ended: "Ended" };
const ROLES = { candidate: "Candidate (clinician)", interlocutor: "Interlocutor (patient or relative)" };

let counter = 0;
function clientID(prefix) {
  counter += 1;
  return `${prefix}-${Date.now().toString(36)}-${counter}-${Math.random().toString(36).slice(2, 6)}`;
}

export async function renderRoom(el, app, roomID) {
  replace(el, h("h1", {}, "Practice room"), h("p", {}, "Loading the room…"));
  if (!app.api.user) {
    replace(el, h("h1", {}, "Practice room"),
      h("p", {}, h("a", { href: `/account?next=${encodeURIComponent(location.pathname)}`, "data-link": true }, "Sign in"), " to open this room."));
    return;
  }
  let row;
  try {
    row = (await app.api.rest("GET", `practice_rooms?select=*&id=eq.${roomID}`))[0];
  } catch (error) {
    replace(el, h("h1", {}, "Practice room"), message(error.message));
    return;
  }
  if (!row) {
    replace(el, h("h1", {}, "Practice room"), message("This room does not exist, or it is private and not yours."));
    return;
  }
  await loadProfiles([row.host_id, row.guest_id]);
  const me = app.api.user.id;
  if (row.host_id !== me && row.guest_id !== me) {
    replace(el, h("h1", {}, "Practice room"), message(row.guest_id ? "This room's seats are taken." : "Take the guest seat on the board to join this room."),
      h("p", {}, h("a", { href: "/", "data-link": true }, "Back to the board")));
    return;
  }
  return new RoomView(el, app, row).cleanup;
}

class RoomView {
  constructor(el, app, row) {
    this.el = el;
    this.app = app;
    this.row = row;
    this.state = new RoomState();
    this.clock = new ServerClock();
    this.cases = null;
    this.rounds = null;
    this.joinSentAt = null;
    this.lastPhase = null;
    this.unsent = new Set(); // my turns whose push was cut by a dropped connection
    this.timingDraft = null;

    this.header = h("div", { class: "room-head" });
    this.status = h("div", { class: "room-status card" });
    this.notice = h("div", { class: "room-notice" });
    this.brief = h("section", { class: "brief card", "aria-labelledby": "brief-h", hidden: true });
    this.controls = h("section", { class: "controls", "aria-label": "Room controls" });
    this.transcriptList = h("ol", { class: "transcript", id: "transcript" });
    this.transcript = h("section", { class: "transcript-box card", "aria-labelledby": "transcript-h" },
      h("h2", { id: "transcript-h" }, "Transcript"), this.transcriptList);
    this.input = h("textarea", { id: "turn-text", name: "turn", rows: 3, maxlength: 4000, disabled: true });
    this.send = h("button", { type: "submit", class: "primary", disabled: true }, "Send");
    this.composer = h("form", { class: "composer" },
      h("label", { for: "turn-text" }, "Your turn"), this.input,
      h("div", { class: "actions" }, this.send, (this.composerHint = h("small", { class: "muted", id: "turn-hint" }, ""))));
    this.input.setAttribute("aria-describedby", "turn-hint");
    this.results = h("section", { class: "results", "aria-label": "Results", hidden: true });
    this.composer.addEventListener("submit", (event) => {
      event.preventDefault();
      this.sendTurn();
    });
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        this.sendTurn();
      }
    });
    this.play = h("div", { class: "play" }, h("div", { class: "play-side" }, this.brief), h("div", { class: "play-main" }, this.transcript, this.composer));
    replace(el, this.header, this.status, this.notice, this.controls, this.play, this.results);
    this.renderHeader();

    this.channel = app.socket.channel(`realtime:room:${row.id}`, () => {
      this.joinSentAt = Date.now();
      const payload = { access_token: app.api.accessToken };
      if (this.state.room) payload.config = { praxis: { resume: { offset: this.state.resumeOffset } } };
      return payload;
    });
    this.channel.onJoin((reply) => this.joined(reply));
    this.channel.onBroadcast("*", (payload, event) => this.event(event, payload));
    this.channel.onError((reason) => replace(this.notice, message(`The room could not be opened: ${reason}`)));
    this.channel.onClose(() => {
      if (!this.left) replace(this.notice, message("The room closed the connection. Reload the page to join again."));
    });
    this.channel.join().catch(() => {});
    // A dropped connection is said in the room too; the rejoin (with resume) clears it.
    this.offline = h("p", { class: "msg warn", role: "status", hidden: true },
      "Connection lost: reconnecting. What you type is kept and sent when the connection is back.");
    this.status.after(this.offline);
    this.socketClosed = () => {
      this.offline.hidden = false;
    };
    app.socket.on("close", this.socketClosed);
    this.timer = setInterval(() => this.tick(), 500);
    this.cleanup = () => {
      clearInterval(this.timer);
      app.socket.listeners.close = app.socket.listeners.close.filter((c) => c !== this.socketClosed);
      this.channel.leave();
    };
  }

  name(id) {
    if (id === this.app.api.user.id) return "You";
    return this.fullName(id);
  }

  fullName(id) {
    const p = this.app.profiles.get(id);
    return p ? `${p.first_name} ${p.last_name}` : id === this.app.api.user.id ? "You" : "Your peer";
  }

  /** "Asha Patel (you)" or "Ben Okafor". */
  label(id) {
    return `${this.fullName(id)}${id === this.app.api.user.id ? " (you)" : ""}`;
  }

  joined(reply) {
    this.clock.update(reply.room?.server_time, this.joinSentAt ?? undefined);
    this.offline.hidden = true;
    this.state.applySnapshot(reply);
    replace(this.notice);
    // Turns typed here that were not acknowledged before the drop: send them again (same ids,
    // so a turn the server already has is answered as a repeat, never stored twice).
    for (const id of this.unsent) {
      const turn = this.state.pending.get(id);
      if (turn) this.pushTurn(id, turn.text);
    }
    this.unsent.clear();
    this.render();
    if (this.state.room.stage === 3) this.loadRounds();
  }

  event(event, payload) {
    const before = { phase: this.state.room?.phase, round: this.state.room?.round, stage: this.state.room?.stage };
    if (!this.state.room || !this.state.apply(event, payload)) return;
    const room = this.state.room;
    if (event === "turn" && payload.speaker_id !== this.app.api.user.id) {
      announce(`${this.name(payload.speaker_id)}: ${payload.text}`);
    }
    if (event === "phase" && (room.phase !== before.phase || room.round !== before.round)) {
      const left = this.clock.secondsLeft(room.deadline);
      announce(`Round ${room.round}: ${PHASES[room.phase]}${left !== null ? `, ${formatSeconds(left)} left` : ""}.`);
    }
    if (event === "stage" && room.stage === 3) {
      announce("Both rounds are done. The transcripts and the assessment are below.");
      this.loadRounds();
    }
    if (event === "assessment" && room.stage === 3) this.loadRounds();
    if (event === "left" && payload.user_id !== this.app.api.user.id) announce(`${this.name(payload.user_id)} left the room.`);
    if (event === "presence" && payload.user_id !== this.app.api.user.id) {
      if (payload.status === "joined" || payload.status === "back") loadProfiles([payload.user_id]).then(() => this.render());
      announce(`${this.name(payload.user_id)} ${payload.status === "away" ? "lost the connection" : payload.status === "left" ? "left" : "joined"}.`);
    }
    if (event === "brief") announce("Your brief is shown.");
    this.render();
  }

  async command(event, extra = {}, button = null) {
    replace(this.notice);
    if (button) button.disabled = true;
    try {
      const reply = await this.channel.push(event, { client_id: clientID(event), ...extra });
      return reply;
    } catch (error) {
      const reason = error instanceof PushError ? error.reason : String(error);
      replace(this.notice, message(reason === "disconnected" ? "The connection dropped before the server answered: try again." : reason));
      return null;
    } finally {
      if (button) button.disabled = false;
    }
  }

  sendTurn() {
    const text = this.input.value.trim();
    if (!text || this.state.room?.phase !== "roleplay") return;
    if (text.length > 4000) {
      replace(this.notice, message("A turn is at most 4000 characters."));
      return;
    }
    const id = clientID("t");
    this.state.addPending(id, text);
    this.input.value = "";
    this.renderTranscript();
    this.pushTurn(id, text);
  }

  pushTurn(id, text) {
    this.channel.push("turn", { client_turn_id: id, text }).then(
      () => {
        this.state.acknowledged(id);
        this.renderTranscript();
      },
      (error) => {
        if (error.reason === "disconnected") {
          this.unsent.add(id); // sent again after the rejoin
          return;
        }
        if (error.reason === "left") return;
        this.state.acknowledged(id);
        replace(this.notice, message(`Your turn was not sent: ${error.reason}`));
        this.renderTranscript();
      },
    );
  }

  async leave() {
    this.left = true;
    await this.command("leave");
    navigate("/");
  }

  renderHeader() {
    const row = this.row;
    replace(this.header,
      h("h1", {}, `${row.type} practice room`),
      h("p", { class: "muted" }, h("time", { datetime: row.datetime_utc }, formatDateTime(parseTimestamp(row.datetime_utc))),
        ` · host ${this.label(row.host_id)}`, row.guest_id ? ` · guest ${this.label(row.guest_id)}` : " · guest seat free"));
  }

  render() {
    const focused = document.activeElement?.id;
    const { room, role } = this.state;
    if (!room) return;
    if (room.guest_id && room.guest_id !== this.row.guest_id) {
      this.row = { ...this.row, guest_id: room.guest_id };
      this.renderHeader();
    }
    this.renderStatus();
    this.renderBrief();
    this.renderControls();
    this.renderTranscript();
    const playing = room.phase === "roleplay" && Boolean(role);
    this.input.disabled = !playing;
    this.send.disabled = !playing;
    this.play.hidden = room.stage === 3 || room.phase === "waiting";
    this.composerHint.textContent = playing ? "Enter sends, Shift+Enter starts a new line." : "You can type when the role-play starts.";
    this.results.hidden = room.stage !== 3;
    if (focused && document.activeElement?.id !== focused) document.getElementById(focused)?.focus();
    this.tick();
  }

  renderStatus() {
    const { room, role } = this.state;
    const other = this.state.otherPresence();
    let presence;
    if (other.status === "none") presence = "No guest yet";
    else if (other.status === "joined") presence = `${this.name(this.state.otherId)} · joined`;
    else if (other.status === "away") presence = h("span", {}, `${this.name(this.state.otherId)} · away, seat kept for `, h("span", { class: "away-left", "data-until": other.until }, "…"));
    else presence = `${this.name(this.state.otherId)} · ${this.state.lastLeft?.user_id === this.state.otherId ? "left" : "not here"}`;
    replace(this.status,
      h("dl", { class: "facts" },
        h("div", {}, h("dt", {}, "Stage"), h("dd", { id: "room-stage", "data-stage": room.stage }, room.stage === 3 ? "3 (complete)" : String(room.stage))),
        room.stage !== 3 ? h("div", {}, h("dt", {}, "Round"), h("dd", { id: "room-round" }, String(room.round))) : null,
        h("div", {}, h("dt", {}, "Phase"), h("dd", { id: "room-phase", "data-phase": room.phase }, PHASES[room.phase] ?? room.phase)),
        role ? h("div", {}, h("dt", {}, "Your role"), h("dd", { id: "room-role", "data-role": role }, ROLES[role])) : null,
        room.stage !== 3 ? h("div", { class: "countdown-box" }, h("dt", {}, "Time left"), h("dd", { id: "countdown", role: "timer", "aria-live": "off" }, "—")) : null,
        h("div", {}, h("dt", {}, "Your peer"), h("dd", { id: "presence", "data-status": other.status }, presence))),
      room.case ? h("p", { class: "case" }, "Case: ", h("strong", {}, room.case.case_name),
        ` · ${room.case.target_profession} · ${room.case.domain} · ${room.case.difficulty_level}`) : null);
  }

  renderBrief() {
    const brief = this.state.brief;
    this.brief.hidden = !brief;
    if (!brief) return this.brief.replaceChildren();
    const details = h("details", { open: this.briefClosed ? null : true },
      h("summary", {}, h("h2", { id: "brief-h" }, `Your brief — ${ROLES[brief.role] ?? brief.role}`)),
      h("p", { class: "muted" }, brief.case_name),
      h("div", { class: "brief-text", id: "brief-text", "data-role": brief.role }, brief.text.split(/\n+/).map((p) => h("p", {}, p))));
    details.addEventListener("toggle", () => {
      this.briefClosed = !details.open;
    });
    replace(this.brief, details);
  }

  renderControls() {
    const { room, you } = this.state;
    const isHost = room.host_id === you;
    const buttons = [];
    if (room.stage !== 3 && room.phase === "waiting") {
      const imReady = room.ready.includes(you);
      const otherReady = room.ready.includes(this.state.otherId);
      const ready = h("button", { type: "button", id: "btn-ready", class: imReady ? "secondary" : "primary", disabled: imReady || !room.guest_id },
        imReady ? "You are ready" : "I'm ready");
      ready.addEventListener("click", () => this.command("ready", {}, ready));
      const start = h("button", { type: "button", id: "btn-start", class: "primary", disabled: !(imReady && otherReady && room.case) }, `Start round ${room.round}`);
      start.addEventListener("click", () => this.command("start_round", {}, start));
      const readiness = h("p", { class: "muted", id: "readiness" },
        !room.guest_id ? "Waiting for a guest to take the seat." : `${imReady ? "You are ready" : "You are not ready"} · ${otherReady ? "your peer is ready" : "your peer is not ready yet"}${room.case ? "" : " · no case chosen yet"}`);
      const wrap = [h("div", { class: "actions" }, ready, start), readiness];
      if (isHost) wrap.push(this.caseChooser(), this.timingForm());
      else if (!room.case) wrap.push(h("p", { class: "muted" }, "The host chooses the case."));
      buttons.push(...wrap);
    }
    if (room.stage !== 3 && (room.phase === "preparation" || room.phase === "roleplay")) {
      const row = h("div", { class: "actions" });
      if (room.phase === "preparation") {
        const early = h("button", { type: "button", id: "btn-roleplay", class: "primary" }, "Start role-play now");
        early.addEventListener("click", () => this.command("start_roleplay", {}, early));
        row.append(early);
      }
      const end = h("button", { type: "button", id: "btn-end", class: "secondary" }, "End round");
      end.addEventListener("click", () => this.command("end_round", {}, end));
      row.append(end);
      buttons.push(row);
    }
    const leave = h("button", { type: "button", id: "btn-leave", class: "danger push-end" }, "Leave room");
    leave.addEventListener("click", () => this.leave());
    const last = buttons.at(-1);
    if (last?.classList?.contains("actions")) last.append(leave);
    else buttons.push(h("div", { class: "actions end" }, leave));
    replace(this.controls, buttons);
  }

  caseChooser() {
    const wrap = h("form", { class: "card case-chooser", "aria-labelledby": "case-h" }, h("h2", { id: "case-h" }, "Choose the case"));
    if (!this.cases) {
      wrap.append(h("p", {}, "Loading cases…"));
      this.app.api.rest("GET", "case_briefs?select=id,case_name,domain,target_profession,difficulty_level&status=eq.published&order=case_name.asc")
        .then((rows) => {
          this.cases = rows;
          this.render();
        })
        .catch((error) => replace(this.notice, message(error.message)));
      return wrap;
    }
    const room = this.state.room;
    const options = (values) => [h("option", { value: "" }, "Any"), ...[...new Set(values)].sort().map((v) => h("option", { value: v }, v))];
    const keep = this.filters ?? { target_profession: "", domain: room.type, difficulty_level: "" };
    const profession = h("select", { id: "case-profession" }, options(this.cases.map((c) => c.target_profession)));
    const domain = h("select", { id: "case-domain" }, options(this.cases.map((c) => c.domain)));
    const difficulty = h("select", { id: "case-difficulty" }, options(["easy", "medium", "hard"]));
    profession.value = keep.target_profession;
    domain.value = keep.domain;
    difficulty.value = keep.difficulty_level;
    const matching = () => this.cases.filter((c) =>
      (!profession.value || c.target_profession === profession.value) && (!domain.value || c.domain === domain.value) &&
      (!difficulty.value || c.difficulty_level === difficulty.value));
    const pick = h("select", { id: "case-pick" });
    pick.addEventListener("change", () => {
      this.picked = pick.value;
    });
    const fill = () => {
      this.filters = { target_profession: profession.value, domain: domain.value, difficulty_level: difficulty.value };
      const list = matching();
      replace(pick, list.length ? list.map((c) => h("option", { value: c.id }, `${c.case_name} (${c.target_profession}, ${c.difficulty_level})`)) : h("option", { value: "" }, "No case matches"));
      if (this.picked && list.some((c) => c.id === this.picked)) pick.value = this.picked;
    };
    for (const select of [profession, domain, difficulty]) select.addEventListener("change", fill);
    fill();
    const choose = h("button", { type: "submit", class: "primary", id: "btn-choose" }, "Choose this case");
    const random = h("button", { type: "button", class: "secondary", id: "btn-random" }, "Random case");
    const choose1 = async (payload, button) => {
      const reply = await this.command("choose_case", payload, button);
      if (reply?.case) announce(`Case chosen: ${reply.case.case_name}.`);
    };
    wrap.addEventListener("submit", (event) => {
      event.preventDefault();
      if (pick.value) choose1({ case_id: pick.value }, choose);
    });
    random.addEventListener("click", () => {
      const filters = {};
      if (profession.value) filters.target_profession = profession.value;
      if (domain.value) filters.domain = domain.value;
      if (difficulty.value) filters.difficulty_level = difficulty.value;
      choose1({ random: filters }, random);
    });
    const label = (text, control) => h("div", { class: "field" }, h("label", { for: control.id }, text), control);
    wrap.append(h("div", { class: "row" }, label("Profession", profession), label("Domain", domain), label("Difficulty", difficulty)),
      label("Case", pick), h("div", { class: "actions" }, choose, random));
    return wrap;
  }

  timingForm() {
    const timing = this.timingDraft ?? this.state.room.timing;
    const prep = h("input", { type: "number", id: "timing-prep", min: 1, max: 1800, step: 1, value: timing.preparation_seconds, inputmode: "numeric" });
    const play = h("input", { type: "number", id: "timing-roleplay", min: 1, max: 1800, step: 1, value: timing.roleplay_seconds, inputmode: "numeric" });
    // What the host is typing survives a re-render caused by a room event.
    const keep = () => {
      this.timingDraft = { preparation_seconds: prep.value, roleplay_seconds: play.value };
    };
    prep.addEventListener("input", keep);
    play.addEventListener("input", keep);
    const save = h("button", { type: "submit", class: "secondary", id: "btn-timing" }, "Set timing");
    const form = h("form", { class: "card timing", "aria-labelledby": "timing-h" }, h("h2", { id: "timing-h" }, "Timing (seconds)"),
      h("div", { class: "row" },
        h("div", { class: "field" }, h("label", { for: "timing-prep" }, "Preparation"), prep),
        h("div", { class: "field" }, h("label", { for: "timing-roleplay" }, "Role-play"), play)), save);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const reply = await this.command("set_timing", { preparation_seconds: Number(prep.value), roleplay_seconds: Number(play.value) }, save);
      if (reply) {
        this.timingDraft = null;
        announce("Timing set.");
      }
    });
    return form;
  }

  renderTranscript() {
    const room = this.state.room;
    if (!room) return;
    const items = this.state.transcript(room.round).map((turn) => turnItem(turn, this.name(turn.speaker_id), false, turn.speaker_id === this.app.api.user.id));
    for (const pending of this.state.pending.values()) {
      if (pending.round === room.round) items.push(turnItem({ ...pending, speaker_id: this.app.api.user.id, role: this.state.role }, "You", true, true));
    }
    replace(this.transcriptList, items.length ? items : h("li", { class: "empty" }, room.phase === "roleplay" ? "No turns yet: say hello." : "Turns appear here during the role-play."));
    this.transcriptList.scrollTop = this.transcriptList.scrollHeight;
  }

  tick() {
    const room = this.state.room;
    const countdown = document.getElementById("countdown");
    if (room && countdown) {
      const left = this.clock.secondsLeft(room.deadline);
      countdown.textContent = left === null ? "—" : formatSeconds(left);
      countdown.dataset.seconds = left ?? "";
      countdown.classList.toggle("low", left !== null && left <= 30);
    }
    for (const span of document.querySelectorAll(".away-left")) {
      const left = this.clock.secondsLeft(span.dataset.until);
      span.textContent = left === null ? "…" : formatSeconds(left);
    }
  }

  async loadRounds() {
    try {
      this.rounds = await this.app.api.rest("GET", `practice_rounds?select=*&room_id=eq.${this.row.id}&order=round.asc`);
    } catch (error) {
      replace(this.notice, message(error.message));
      return;
    }
    await loadProfiles(this.rounds.map((r) => r.candidate_id));
    replace(this.results, h("h2", {}, "Results"), this.rounds.map((round) => this.roundResult(round)));
  }

  roundResult(round) {
    const turns = Array.isArray(round.transcript) ? round.transcript : [];
    return h("article", { class: "card round-result", "data-round": round.round, "aria-labelledby": `round-${round.round}-h` },
      h("h3", { id: `round-${round.round}-h` }, `Round ${round.round} · candidate ${this.label(round.candidate_id)}`),
      h("details", { open: true }, h("summary", {}, `Transcript (${turns.length} turns)`),
        h("ol", { class: "transcript done" }, turns.map((t) => turnItem(t, this.name(t.speaker_id), false, t.speaker_id === this.app.api.user.id)))),
      renderAssessment(round.assessment));
  }
}

function turnItem(turn, who, pending, mine = false) {
  return h("li", { class: `turn ${turn.role ?? ""}${pending ? " pending" : ""}${mine ? " mine" : ""}`, "data-seq": turn.seq ?? "", "data-client-turn-id": turn.client_turn_id ?? "", "data-pending": pending ? "true" : "false" },
    h("p", { class: "turn-who" }, h("strong", {}, who), turn.role ? ` · ${turn.role === "candidate" ? "candidate" : "interlocutor"}` : "",
      pending ? h("span", { class: "pending-tag" }, " · sending…") : null),
    h("p", { class: "turn-text" }, turn.text));
}

/** The assessment JSON of a round (protocol/room.md): nine criteria, summary, strengths, areas. */
export function renderAssessment(assessment) {
  if (!assessment) return h("p", { class: "muted assessment-pending" }, "The assessment is being prepared…");
  const criteria = assessment.criteria ?? [];
  return h("section", { class: "assessment", "aria-label": "Assessment" },
    h("p", { class: "score" }, "Clinical communication score: ", h("strong", {}, `${assessment.score_raw} / ${assessment.score_max}`)),
    assessment.summary ? h("p", { class: "summary" }, assessment.summary) : null,
    h("table", { class: "criteria" },
      h("caption", {}, `${criteria.length} criteria`),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Criterion"), h("th", { scope: "col" }, "Score"), h("th", { scope: "col" }, "Evidence and notes"))),
      h("tbody", {}, criteria.map((c) => h("tr", { class: "criterion", "data-kind": c.kind },
        h("th", { scope: "row" }, c.name, h("small", {}, ` (${c.kind})`)),
        h("td", { class: "crit-score" }, c.score === null || c.score === undefined ? "not judged" : `${c.score} / ${c.max}`),
        h("td", {},
          c.evidence?.length ? h("ul", { class: "evidence" }, c.evidence.map((q) => h("li", {}, h("q", {}, q)))) : null,
          c.note ? h("p", { class: "note" }, c.note) : null))))),
    h("div", { class: "two" },
      h("div", {}, h("h4", {}, "Strengths"), h("ul", { class: "strengths" }, (assessment.strengths ?? []).map((s) => h("li", {}, s)))),
      h("div", {}, h("h4", {}, "Areas to improve"), h("ul", { class: "areas" }, (assessment.areas_for_improvement ?? []).map((s) => h("li", {}, s))))));
}
