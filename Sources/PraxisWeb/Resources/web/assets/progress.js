// My progress (/progress): the rounds I played as candidate, their scores over time (a chart
// drawn here as SVG), and each feedback report.

import { h, svg, replace, formatDateTime, message } from "./dom.js";
import { parseTimestamp, formatSeconds } from "./clock.js";
import { renderAssessment } from "./room.js";

export async function renderProgress(el, app) {
  replace(el, h("h1", {}, "My progress"), h("p", {}, "Loading…"));
  const me = app.api.user.id;
  let rounds;
  let reports;
  try {
    [rounds, reports] = await Promise.all([
      app.api.rest("GET", `practice_rounds?select=id,room_id,round,assessment,duration_seconds,created_at&candidate_id=eq.${me}&order=created_at.asc`),
      app.api.rest("GET", "feedback_reports?select=*&order=created_at.asc"),
    ]);
  } catch (error) {
    replace(el, h("h1", {}, "My progress"), message(error.message));
    return;
  }
  const reportByRound = new Map(reports.map((r) => [r.session_id, r]));
  const scored = rounds.filter((r) => r.assessment && typeof r.assessment.score_raw === "number");
  const parts = [h("h1", {}, "My progress")];
  if (!rounds.length) {
    parts.push(h("p", { class: "lead" }, "No rounds as candidate yet. Take a seat or host a room on the ",
      h("a", { href: "/", "data-link": true }, "board"), "."));
    replace(el, ...parts);
    return;
  }
  parts.push(h("section", { class: "card", "aria-labelledby": "chart-h" }, h("h2", { id: "chart-h" }, "Scores over time"),
    scoreChart(scored), scoreTable(scored)));
  parts.push(h("h2", {}, "Feedback reports"));
  for (const round of [...rounds].reverse()) {
    const report = reportByRound.get(round.id);
    parts.push(h("article", { class: "card report", "data-round-id": round.id },
      h("h3", {}, `${formatDateTime(parseTimestamp(round.created_at))} · round ${round.round}`),
      round.duration_seconds !== null ? h("p", { class: "muted" }, `Role-play ${formatSeconds(round.duration_seconds)}`) : null,
      report && !round.assessment ? h("p", {}, report.ai_summary) : null,
      renderAssessment(round.assessment)));
  }
  replace(el, ...parts);
}

/** A line chart of score_raw / score_max, one point per round, oldest on the left. */
export function scoreChart(rounds) {
  const width = 640;
  const height = 220;
  const pad = { left: 40, right: 16, top: 16, bottom: 36 };
  const max = Math.max(1, ...rounds.map((r) => r.assessment.score_max ?? 15));
  const x = (i) => pad.left + (rounds.length === 1 ? (width - pad.left - pad.right) / 2 : (i * (width - pad.left - pad.right)) / (rounds.length - 1));
  const y = (score) => pad.top + (1 - score / max) * (height - pad.top - pad.bottom);
  const grid = [];
  for (let s = 0; s <= max; s += Math.max(1, Math.round(max / 5))) {
    grid.push(svg("line", { x1: pad.left, x2: width - pad.right, y1: y(s), y2: y(s), class: "grid" }),
      svg("text", { x: pad.left - 8, y: y(s) + 4, "text-anchor": "end", class: "axis" }, String(s)));
  }
  const points = rounds.map((r, i) => `${x(i)},${y(r.assessment.score_raw)}`).join(" ");
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img", "aria-labelledby": "chart-title" },
    svg("title", { id: "chart-title" }, `Scores of ${rounds.length} rounds, out of ${max}`),
    ...grid,
    rounds.length > 1 ? svg("polyline", { points, class: "line", fill: "none" }) : null,
    ...rounds.map((r, i) => svg("circle", { cx: x(i), cy: y(r.assessment.score_raw), r: 5, class: "dot" },
      svg("title", {}, `${formatDateTime(parseTimestamp(r.created_at))}: ${r.assessment.score_raw} / ${r.assessment.score_max}`))),
    ...rounds.map((r, i) => svg("text", { x: x(i), y: height - 12, "text-anchor": "middle", class: "axis" },
      new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" }).format(new Date(parseTimestamp(r.created_at))))));
  return rounds.length ? chart : h("p", { class: "muted" }, "No scored rounds yet: scores appear when an assessment is ready.");
}

function scoreTable(rounds) {
  if (!rounds.length) return null;
  return h("table", { class: "scores" }, h("caption", {}, "The same scores as a table"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "When"), h("th", { scope: "col" }, "Score"))),
    h("tbody", {}, rounds.map((r) => h("tr", {}, h("td", {}, formatDateTime(parseTimestamp(r.created_at))),
      h("td", { class: "score-cell" }, `${r.assessment.score_raw} / ${r.assessment.score_max}`)))));
}
