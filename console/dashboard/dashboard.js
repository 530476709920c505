// clsctl dashboard: one page, hash routes (#/overview, #/rounds, ...).
// Every /v1/... request goes to clsctl on this computer, which forwards it
// to the coordinator with the operator's certificate; the coordinator's
// role check decides what succeeds. No build step, no CDN: this file,
// index.html, dashboard.css and the vendored uPlot are compiled into clsctl.
"use strict";

// ---- Errors: every JS error is shown in #js-errors (a test reads it). ----
const jsErrors = [];
function recordError(text) {
  jsErrors.push(String(text));
  const el = document.getElementById("js-errors");
  if (el) el.textContent = jsErrors.join("\n");
}
window.addEventListener("error", (e) => {
  recordError("error: " + e.message + " (" + (e.filename || "") + ":" +
              (e.lineno || 0) + ")");
});
window.addEventListener("unhandledrejection", (e) => {
  const r = e.reason;
  recordError("unhandled rejection: " + (r && r.stack ? r.stack : r));
});
const originalConsoleError = console.error.bind(console);
console.error = (...args) => {
  recordError("console.error: " + args.map(String).join(" "));
  originalConsoleError(...args);
};

// ---- Small DOM helpers. ----
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}
function card(title, wide, ...body) {
  return h("section", {class: wide ? "card wide" : "card"}, h("h2", {}, title),
           ...body);
}
function table(headers, rows) {
  return h("table", {}, h("thead", {}, h("tr", {}, headers.map((x) => h("th", {}, x)))),
           h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c))))));
}
function kv(pairs) {
  return h("dl", {class: "kv"},
           pairs.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}
function pct(x) { return x === null || x === undefined ? "–" : (100 * x).toFixed(1) + "%"; }
function num(x, digits) {
  return x === null || x === undefined ? "–" : Number(x).toFixed(digits ?? 3);
}
function muted(text) { return h("p", {class: "muted"}, text); }

// ---- The admin API through clsctl. ----
// {status, body}; a failed fetch (clsctl stopped) is status 0.
async function api(method, path, body) {
  const init = {method, headers: {}, credentials: "same-origin"};
  if (method !== "GET") init.headers["X-CLS-Dashboard"] = "1";
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    return {status: 0, body: {error: {message: "clsctl dashboard is not answering: " + e}}};
  }
  let json = null;
  try { json = await res.json(); } catch (e) { json = null; }
  return {status: res.status, body: json};
}
function errorText(r) {
  if (r.status === 403) return "your role may not see this (" + message(r) + ")";
  if (r.status === 401) return "no session: open the link clsctl dashboard printed";
  return "HTTP " + r.status + ": " + message(r);
}
function message(r) {
  return r.body && r.body.error ? r.body.error.message : JSON.stringify(r.body);
}

// ---- State shared by the pages, fetched on every refresh. ----
const state = {status: null, sites: [], rounds: [], permissions: new Set()};
function can(permission) { return state.permissions.has(permission); }

async function loadCommon() {
  const [status, sites, rounds] = await Promise.all([
    api("GET", "/v1/status"), api("GET", "/v1/sites"),
    api("GET", "/v1/rounds?limit=1000")]);
  if (status.status !== 200) throw new Error("GET /v1/status: " + errorText(status));
  state.status = status.body;
  const caller = status.body.caller || {};
  state.permissions = new Set(caller.permissions || []);
  state.sites = sites.status === 200 ? sites.body.sites : [];
  state.rounds = rounds.status === 200 ? rounds.body.rounds : [];
  document.getElementById("coordinator").textContent =
      (status.body.coordinator_id || "") + " · " + (status.body.model_type || "");
  document.getElementById("caller").textContent =
      caller.name ? "signed in as " + caller.name + " (" + caller.role + ")" : "";
  const chips = document.getElementById("summary-sites");
  chips.replaceChildren(...state.sites.map((s) =>
      h("span", {class: "chip " + (s.connected ? "on" : "off"), "data-site": s.site_id},
        s.site_id)));
  document.getElementById("rounds-completed").textContent =
      String(state.rounds.filter((r) => r.status === "completed").length);
  const running = status.body.round;
  document.getElementById("round-now").textContent = running
      ? "#" + running.round_id + " " + running.stage
      : (status.body.queued_rounds ? status.body.queued_rounds + " queued" : "none");
}

// ---- Charts (uPlot). ----
const charts = [];
function chart(title, xLabel, xs, series, opts) {
  const box = h("div", {class: "chart"});
  const width = Math.max(480, Math.floor((document.getElementById("page").clientWidth || 1200) / 2) - 60);
  const colors = ["#2456c7", "#d9480f", "#1a7f37", "#9c36b5", "#b42318", "#0b7285"];
  const data = [xs, ...series.map((s) => s.values)];
  const plot = new uPlot({
    title, width: opts && opts.wide ? width * 2 + 40 : width, height: 240,
    scales: {x: {time: !!(opts && opts.time)},
             y: opts && opts.yRange ? {range: opts.yRange} : {}},
    // Rounds and versions are whole numbers: no 1.2, 1.4 ticks.
    axes: [opts && opts.time ? {label: xLabel}
                             : {label: xLabel, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]},
           {label: (opts && opts.yLabel) || ""}],
    series: [{label: xLabel},
             ...series.map((s, i) => ({
               label: s.label, stroke: s.color || colors[i % colors.length],
               width: 2, points: {show: true, size: 6},
               paths: s.pointsOnly ? () => null : undefined,
               dash: s.dash}))],
  }, data, box);
  charts.push(plot);
  return box;
}

// Every export of the audit log is itself audited (audit_exported), so the
// pages read it when opened, not on every timed refresh.
const auditCache = {log: null, verify: null};
let navigated = true;  // set by navigation, cleared after a render
async function auditLog() {
  if (navigated || !auditCache.log) auditCache.log = await api("GET", "/v1/audit");
  return auditCache.log;
}
async function auditVerify() {
  if (navigated || !auditCache.verify) {
    auditCache.verify = await api("GET", "/dashboard/audit-verify");
  }
  return auditCache.verify;
}

// ---- Pages. ----
async function pageOverview(main) {
  const st = state.status;
  main.append(card("Coordinator", false, kv([
    ["model version", st.model_version || "none yet"],
    ["model type", st.model_type],
    ["sites", st.sites.approved + " approved, " + st.sites.connected + " connected, " +
              st.sites.pending + " pending, " + st.sites.quarantined + " quarantined"],
    ["minimum sites", st.min_sites],
    ["aggregation", st.aggregation.secure_aggregation ? "secure aggregation (sums only)" : "per site"],
    ["round", st.round ? "#" + st.round.round_id + " " + st.round.stage : "none running"],
    ["queued rounds", st.queued_rounds],
    ["coordinator build", st.version || ""]])));

  const privacyBox = card("Privacy budget", false, muted("loading…"));
  main.append(privacyBox);
  main.append(card("Sites", true, table(
      ["site", "name", "status", "connected", "trust", "samples", "agent", "last seen", ""],
      state.sites.map((s) => [
        s.site_id, s.site_name, s.status,
        h("span", {class: s.connected ? "ok" : "bad"}, s.connected ? "connected" : "not connected"),
        num(s.trust_score, 2), s.num_samples, s.agent_version || "–", s.last_seen || "–",
        siteControls(s)]))));

  const deployBox = card("Deployment and rollout", true, muted("loading…"));
  main.append(deployBox);

  const [privacy, deployment, versions] = await Promise.all([
    can("privacy.read") ? api("GET", "/v1/privacy?limit=1") : null,
    can("model.read") ? api("GET", "/v1/deployment") : null,
    can("model.read") ? api("GET", "/v1/versions?limit=10") : null]);
  privacyBox.replaceChildren(h("h2", {}, "Privacy budget"), privacySummary(privacy));
  deployBox.replaceChildren(h("h2", {}, "Deployment and rollout"),
                            ...deploymentView(deployment, versions));
}

function siteControls(s) {
  const controls = [];
  if (s.status === "pending" && can("site.approve")) {
    controls.push(h("button", {"data-action": "approve", onclick: () =>
        act("POST", "/v1/sites/" + encodeURIComponent(s.site_id) + "/approve", undefined,
            "Approve " + s.site_id + "?")}, "Approve"));
  }
  if (s.status === "quarantined" && can("site.reinstate")) {
    controls.push(h("button", {"data-action": "reinstate", onclick: () =>
        act("POST", "/v1/sites/" + encodeURIComponent(s.site_id) + "/reinstate",
            {trust_score: 1.0}, "Reinstate " + s.site_id + " with trust 1.0?")},
        "Reinstate"));
  }
  return h("span", {}, controls);
}

function privacySummary(privacy) {
  if (privacy === null) return muted("your role may not read the privacy budget");
  if (privacy.status !== 200) return muted(errorText(privacy));
  const p = privacy.body;
  // Cross-site DP off: said plainly, with no epsilon figure that could read
  // as "nothing spent"; the sites' own record-level guarantee is listed.
  if (p.enabled === false) {
    return h("div", {}, h("p", {id: "privacy-off"},
        h("b", {}, "cross-site differential privacy: off"),
        " ([privacy] mode = \"off\" in the coordinator config; no site-level budget)"),
        recordLevelView(p.record_level));
  }
  const budget = p.period.epsilon_budget;
  const used = budget > 0 ? Math.min(1, p.spent_epsilon / budget) : 0;
  const bar = h("div", {class: "bar"}, h("div", {}));
  bar.firstChild.style.width = (100 * used).toFixed(1) + "%";
  return h("div", {}, kv([
    ["epsilon spent", num(p.spent_epsilon) + " of " + num(budget)],
    ["epsilon left", h("b", {id: "privacy-left"}, num(p.remaining_epsilon))],
    ["delta", String(p.period.delta)],
    ["rounds charged", p.rounds_charged],
    ["period", "#" + p.period.period_id + " since " + p.period.started_at]]), bar,
    recordLevelView(p.record_level));
}

// Each DP-SGD site's record-level (patient-level) ledger as it last reported it.
function recordLevelView(sites) {
  if (!sites || !sites.length) {
    return muted("record-level differential privacy (DP-SGD at the sites): no site reported it");
  }
  return h("div", {id: "privacy-record-level"},
      h("h3", {}, "Record-level differential privacy (DP-SGD at the sites)"),
      table(["site", "epsilon spent", "target epsilon", "delta", "trainings refused"],
          sites.map((r) => [r.site_id, num(r.epsilon, 4), num(r.target_epsilon), String(r.delta),
            r.refusals])));
}

function deploymentView(deployment, versions) {
  if (deployment === null) return [muted("your role may not read model versions or deployments")];
  const out = [];
  if (deployment.status !== 200) {
    out.push(muted(errorText(deployment)));
  } else {
    const d = deployment.body.deployment;
    out.push(d ? kv([
      ["strategy", d.strategy], ["current version", d.current_version || "–"],
      ["candidate", d.candidate_version || "–"],
      ["candidate share", d.percentage === null || d.percentage === undefined ? "–" : d.percentage + "%"],
      ["by", (d.actor || "") + (d.automatic ? " (automatic)" : "") + " at " + d.created_at]])
      : muted("no deployment yet: sites serve the newest version"));
    const c = deployment.body.comparison;
    if (c) out.push(h("p", {}, "Rollout comparison: " + c.description));
    const acks = deployment.body.sites || [];
    if (acks.length) {
      out.push(table(["site", "connected", "acked deployment", "accepted", "up to date"],
          acks.map((a) => [a.site_id, a.connected ? "yes" : "no", a.acked_deployment_id || "–",
                           a.accepted === null ? "–" : (a.accepted ? "yes" : "no: " + a.reason),
                           a.up_to_date ? "yes" : "no"])));
    }
  }
  if (versions && versions.status === 200) {
    out.push(h("h2", {}, "Versions (newest " + versions.body.versions.length + " of " +
               versions.body.total + ")"));
    out.push(table(["version", "round", "accuracy", "loss", "AUC", "samples", "created", ""],
        versions.body.versions.map((v) => [
          v.version_id + (v.current ? " (current)" : ""), v.round_id,
          pct(v.metrics && v.metrics.accuracy), num(v.metrics && v.metrics.loss),
          num(v.metrics && v.metrics.auc), v.metrics ? v.metrics.training_samples : "–",
          v.created_at, versionControls(v)])));
    if (can("model.rollback")) {
      out.push(h("p", {}, h("button", {"data-action": "rollback", onclick: () =>
          act("POST", "/v1/versions/rollback", {}, "Roll back to the previous stable version?")},
          "Roll back")));
    }
  }
  return out;
}

function versionControls(v) {
  if (v.current || !can("model.deploy")) return "";
  return h("button", {"data-action": "deploy", onclick: () =>
      act("POST", "/v1/versions/" + encodeURIComponent(v.version_id) + "/deploy",
          {strategy: "immediate"}, "Deploy " + v.version_id + " to every site now?")},
      "Deploy");
}

async function act(method, path, body, question) {
  if (!window.confirm(question)) return;
  const r = await api(method, path, body);
  document.getElementById("notice").textContent = r.status === 200
      ? method + " " + path + ": done" : method + " " + path + ": " + errorText(r);
  refresh();
}

async function pageRounds(main) {
  const rounds = state.rounds;
  if (!rounds.length) { main.append(card("Rounds", true, muted("no rounds yet"))); return; }
  const xs = rounds.map((r) => r.round_id);
  const val = (f) => rounds.map((r) => (r.validation && r.validation[f] !== undefined ? r.validation[f] : null));
  const evalAcc = rounds.map((r) => (r.evaluation ? r.evaluation.accuracy : null));
  main.append(card("Accuracy per round", false, chart("", "round", xs, [
    {label: "validation accuracy (model the round started from)", values: val("accuracy")},
    {label: "evaluation accuracy (model it produced)", values: evalAcc}],
    {yRange: [0, 1], yLabel: "accuracy"})));
  main.append(card("Loss per round", false, chart("", "round", xs, [
    {label: "validation log loss", values: val("loss")}], {yLabel: "loss"})));
  main.append(card("Participants and dropouts", false, chart("", "round", xs, [
    {label: "participants", values: rounds.map((r) => r.participants.length)},
    {label: "contributors", values: rounds.map((r) => r.contributors.length)},
    {label: "dropped", values: rounds.map((r) => r.dropped.length)}], {yLabel: "sites"})));
  main.append(card("Round duration", false, chart("", "round", xs, [
    {label: "protocol duration (ms, announce to unmask)", values: rounds.map((r) => r.duration_ms)}],
    {yLabel: "ms"})));
  main.append(card("Rounds", true, table(
      ["round", "status", "stage", "started", "duration", "participants", "contributors",
       "dropped", "validation acc.", "evaluation acc.", "version"],
      rounds.slice().reverse().map((r) => [
        r.round_id, h("span", {class: r.status === "aborted" ? "bad" : (r.status === "completed" ? "ok" : "warn")}, r.status),
        r.stage, r.started_at, r.duration_ms === null ? "–" : r.duration_ms + " ms",
        r.participants.join(", "), r.contributors.join(", "),
        r.dropped.map((d) => d.site_id + " (" + d.reason + ")").join(", ") || "–",
        pct(r.validation && r.validation.accuracy), pct(r.evaluation && r.evaluation.accuracy),
        r.model_version || (r.abort_reason ? "aborted: " + r.abort_reason : "–")]))));
}

async function pagePrivacy(main) {
  if (!can("privacy.read")) { main.append(card("Privacy", true, muted("your role may not read the privacy budget"))); return; }
  const r = await api("GET", "/v1/privacy?limit=100000");
  if (r.status !== 200) { main.append(card("Privacy", true, privacySummary(r))); return; }
  const p = r.body;
  main.append(card("Budget", false, privacySummary(r)));
  if (p.enabled === false) return;
  const hist = p.history;
  if (hist.length) {
    const xs = hist.map((e) => e.round_id);
    main.append(card("Epsilon spent against the budget", false, chart("", "round", xs, [
      {label: "epsilon spent after the round", values: hist.map((e) => e.epsilon_after)},
      {label: "budget", values: hist.map(() => p.period.epsilon_budget), dash: [6, 4]}],
      {yLabel: "epsilon"})));
    main.append(card("Epsilon per round", false, chart("", "round", xs, [
      {label: "round epsilon", values: hist.map((e) => e.round_epsilon)}], {yLabel: "epsilon"})));
  }
  main.append(card("Charged rounds", true, hist.length ? table(
      ["round", "mode", "mechanism", "noise multiplier", "sampling rate", "sites", "round epsilon",
       "epsilon after", "charged at"],
      hist.slice().reverse().map((e) => [e.round_id, e.mode, e.mechanism, num(e.noise_multiplier),
        num(e.sampling_rate), e.sites_contributed + " of " + e.sites_planned, num(e.round_epsilon, 4),
        num(e.epsilon_after, 4), e.charged_at])) : muted("no round charged in this period")));
}

async function pageTrust(main) {
  const sites = state.sites;
  main.append(card("Trust now", false, table(["site", "status", "trust", ""],
      sites.map((s) => {
        const bar = h("div", {class: "bar"}, h("div", {}));
        bar.firstChild.style.width = (100 * s.trust_score).toFixed(0) + "%";
        return [s.site_id, h("span", {class: s.status === "quarantined" ? "bad" : ""}, s.status),
                num(s.trust_score, 2), bar];
      }))));
  // Trust over rounds: the trust values the audit log recorded with a round
  // (robust aggregation's updates and quarantines), then today's value.
  let events = [];
  let auditNote = null;
  if (can("audit.export")) {
    const a = await auditLog();
    if (a.status === 200) events = a.body.entries;
    else auditNote = errorText(a);
  } else {
    auditNote = "your role may not read the audit log, so only today's trust is shown";
  }
  // One point per round that ran; a site without recorded values is drawn
  // flat at its score now, one with values from its first recorded round.
  const rounds = state.rounds.map((r) => r.round_id);
  const lastRound = rounds.length ? rounds[rounds.length - 1] : 0;
  const series = sites.map((s) => {
    const byRound = new Map();
    for (const e of events) {
      if (e.fields && e.fields.site_id === s.site_id && e.fields.round !== undefined &&
          e.fields.trust !== undefined) byRound.set(e.fields.round, e.fields.trust);
    }
    let value = byRound.size ? null : s.trust_score;
    return {label: s.site_id, values: rounds.map((r) => {
      if (byRound.has(r)) value = byRound.get(r);
      return r === lastRound ? s.trust_score : value;
    })};
  });
  main.append(card("Trust over rounds", false,
      sites.length ? chart("", "round", rounds, series, {yRange: [0, 1], yLabel: "trust"}) : muted("no sites"),
      auditNote ? muted(auditNote) : null));
  const quarantines = events.filter((e) => ["site_quarantined", "site_reinstated", "site_misbehaved",
                                            "site_trust_set"].includes(e.event_type));
  main.append(card("Quarantines and trust changes", true,
      quarantines.length ? table(["time", "event", "site", "round", "trust", "by"],
          quarantines.slice().reverse().map((e) => [e.timestamp, e.event_type, e.fields.site_id,
            e.fields.round ?? "–", num(e.fields.trust ?? e.fields.trust_score, 2), e.actor]))
        : muted(can("audit.export") ? "none recorded" : "needs the audit.export permission"),
      h("p", {}, "Quarantined now: " + (sites.filter((s) => s.status === "quarantined").map((s) => s.site_id).join(", ") || "none"))));
}

async function pageDrift(main) {
  const [drift, alerts, deployment] = await Promise.all([
    api("GET", "/v1/drift"), api("GET", "/v1/drift/alerts?limit=1000"),
    can("model.read") ? api("GET", "/v1/deployment") : null]);
  if (drift.status !== 200) { main.append(card("Drift", true, muted(errorText(drift)))); return; }
  const versions = drift.body.versions || [];
  main.append(card("Per version: recent accuracy against the baseline", true, versions.length ? table(
      ["version", "role", "sites", "predictions with outcome", "recent accuracy", "baseline accuracy",
       "ECE", "max PSI", "alerts (7 days)", "alerts"],
      versions.map((v) => [v.version_id, v.role || "–", v.sites, v.total_predictions,
        h("span", {class: v.recent_accuracy !== null && v.baseline_accuracy !== null &&
                   v.recent_accuracy < v.baseline_accuracy - 0.05 ? "bad" : ""}, pct(v.recent_accuracy)),
        pct(v.baseline_accuracy), num(v.ece), num(v.max_psi), v.alerts_last_7_days, v.total_alerts]))
      : muted("no site has reported predictions with outcomes yet")));
  if (versions.length) {
    main.append(card("Recent vs baseline accuracy", false, chart("", "version #", versions.map((v, i) => i + 1), [
      {label: "recent", values: versions.map((v) => v.recent_accuracy)},
      {label: "baseline", values: versions.map((v) => v.baseline_accuracy)}],
      {yRange: [0, 1], yLabel: "accuracy"})));
  }
  const list = alerts.status === 200 ? alerts.body.alerts.slice().reverse() : [];
  main.append(card("Alerts on a timeline", false, list.length
      ? chart("", "received", list.map((a) => a.received_s), [
          {label: "severity", values: list.map((a) => a.severity), pointsOnly: true}],
          {time: true, yLabel: "severity"})
      : muted(alerts.status === 200 ? "no drift alerts" : errorText(alerts))));
  const sites = drift.body.sites || [];
  main.append(card("Sites' drift reports", false, sites.length ? table(
      ["site", "last report", "summaries", "alerts", "deployment acked"],
      sites.map((s) => [s.site_id, s.last_report_at || "–", s.summaries, s.alerts,
                        s.ack && s.ack.deployment_id ? s.ack.deployment_id : "–"]))
      : muted("no drift reports yet")));
  const c = deployment && deployment.status === 200 ? deployment.body.comparison : null;
  main.append(card("Sequential comparison of the rollout", true, c
      ? kv([["candidate", c.b], ["current", c.a], ["verdict", h("b", {}, c.verdict)],
            ["effect", num(c.effect)], ["always-valid CI", num(c.ci_low) + " to " + num(c.ci_high)],
            ["p-value", String(c.p_value)], ["alpha", String(c.alpha)], ["summary", c.description]])
      : muted(deployment === null ? "needs the model.read permission" : "no rollout is being compared")));
}

async function pageAudit(main) {
  if (!can("audit.export")) { main.append(card("Audit", true, muted("your role may not read the audit log"))); return; }
  const [log, verify] = await Promise.all([auditLog(), auditVerify()]);
  const v = verify.body || {};
  const ok = verify.status === 200 && v.ok === true && !v.error;
  main.append(card("Verification", false,
      h("p", {}, h("b", {id: "audit-verified", class: ok ? "ok" : "bad"},
                   ok ? "verified: the chain and the signed checkpoints check out"
                      : "verification FAILED")),
      kv([["entries", v.entries ?? "–"], ["sequence", (v.first_seq ?? "–") + " to " + (v.last_seq ?? "–")],
          ["checkpoints checked", v.checkpoints_checked ?? "–"], ["last signed entry", v.last_signed_seq ?? "–"]]),
      v.error ? muted(v.error.message) : null,
      (v.problems || []).length ? table(["seq", "problem", "message"],
          v.problems.map((p) => [p.seq, p.kind, p.message])) : null,
      (v.notes || []).map((n) => muted(n))));
  if (log.status !== 200) { main.append(card("Latest entries", true, muted(errorText(log)))); return; }
  const entries = log.body.entries.slice(-50).reverse();
  main.append(card("Latest entries (" + log.body.entries.length + " in all)", true, table(
      ["seq", "time", "event", "actor", "role", "details"],
      entries.map((e) => [e.seq, e.timestamp, e.event_type, e.actor, e.actor_role,
                          h("code", {}, JSON.stringify(e.fields).slice(0, 140))]))));
}

const pages = {overview: pageOverview, rounds: pageRounds, privacy: pagePrivacy,
               trust: pageTrust, drift: pageDrift, audit: pageAudit};

// ---- Refresh loop. ----
let refreshing = false;
let again = false;  // a navigation during a refresh: render once more after
let timer = null;
async function refresh() {
  if (refreshing) { again = true; return; }
  refreshing = true;
  const name = (location.hash.replace(/^#\/?/, "") || "overview").split("?")[0];
  const render = pages[name] || pageOverview;
  try {
    await loadCommon();
    const old = charts.splice(0);
    const main = h("main", {id: "page"});
    await render(main);
    for (const c of old) c.destroy();
    document.getElementById("page").replaceWith(main);
    for (const a of document.querySelectorAll("#nav a")) {
      a.classList.toggle("active", a.dataset.page === (pages[name] ? name : "overview"));
    }
    document.body.dataset.page = pages[name] ? name : "overview";
    document.getElementById("refreshed").textContent = "updated " + new Date().toLocaleTimeString();
    navigated = false;
  } catch (e) {
    document.getElementById("notice").textContent = String(e.message || e);
  } finally {
    refreshing = false;
  }
  if (again) { again = false; refresh(); return; }
  // Every 3 s while a round runs or is queued, else every 15 s.
  const busy = state.status && (state.status.round || state.status.queued_rounds > 0);
  clearTimeout(timer);
  timer = setTimeout(refresh, busy ? 3000 : 15000);
}
window.addEventListener("hashchange", () => { navigated = true; refresh(); });
window.addEventListener("DOMContentLoaded", refresh);
