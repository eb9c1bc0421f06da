// The Data Migration tab: Create Migration Job, the job history, and the live job page with its
// progress bars, CDC figures, Issues list and the Pause / Resume / Cancel / Complete CDC buttons.

import { api } from "./api.js";
import { badge, bytes, clear, confirmDialog, count, duration, errorBox, h, keepFocus, moment, options, s, setTitle, toast, when } from "./dom.js";
import { projectBar } from "./projects.js";

const MODES = [["snapshot", "Snapshot (one-time copy)"], ["continuous", "Continuous (snapshot, then CDC)"], ["cdc-only", "CDC only"]];
const ENDED = new Set(["COMPLETED", "CANCELLED"]);
const ON_ERROR = [["FAIL", "Fail the job"], ["WARN", "Warn and migrate without the value"], ["SKIP", "Skip the document"]];

/** Run `tick` now and then every `ms` until the returned stop function is called. */
function poll(tick, ms) {
  let timer = null;
  let stopped = false;
  const loop = async () => {
    try { await tick(); } catch (err) { if (err.status === 401) stopped = true; }
    if (!stopped) timer = setTimeout(loop, ms);
  };
  loop();
  return () => { stopped = true; clearTimeout(timer); };
}

export async function renderMigration(view, projectId) {
  const [project, about] = await Promise.all([api.get(`/projects/${projectId}`), api.get("/about")]);
  setTitle("Data Migration", project.name);
  const history = h("div", { class: "card flush", "data-slot": "history" });
  const f = {
    mode: h("select", { name: "mode" }, options(MODES, "snapshot")),
    target: h("input", { name: "target_uri", placeholder: about.default_target ? "the server's default target" : "mongodb://host:27017/", required: !about.default_target }),
    database: h("input", { name: "target_db", value: project.target_database, placeholder: project.target_database }),
    drop: h("input", { type: "checkbox", name: "drop" }),
    onError: h("select", { name: "on_error" }, options(ON_ERROR, "FAIL")),
    maxErrors: h("input", { name: "max_errors", type: "number", min: 1, placeholder: "no limit" }),
    verify: h("input", { type: "checkbox", name: "verify" }),
    parallel: h("input", { name: "parallel", type: "number", min: 1, placeholder: "one, in the server" }),
    engine: h("select", { name: "engine" }, options([["embedded", "Embedded (in this server)"], ["kafka", "Kafka (docs/kafka.md)"]], "embedded")),
    bootstrap: h("input", { name: "kafka_bootstrap", placeholder: "host:9092,host2:9092" }),
    partitions: h("input", { name: "kafka_partitions", type: "number", min: 1, value: 6 }),
    workers: h("input", { name: "kafka_workers", type: "number", min: 0, value: 2 }),
  };
  // The Kafka settings only matter for the CDC of a Kafka-mode job.
  const kafkaFields = h("div", { class: "form-grid", style: "margin-top:12px", "data-slot": "kafka-options" },
    h("label", {}, "Kafka bootstrap servers", f.bootstrap), h("label", {}, "Partitions", f.partitions),
    h("label", {}, "Sink workers", f.workers));
  const showKafka = () => { kafkaFields.hidden = f.engine.value !== "kafka" || f.mode.value === "snapshot"; };
  f.engine.onchange = showKafka;
  f.mode.addEventListener("change", showKafka);
  showKafka();
  // CDC only has no snapshot to run in parallel.
  const parallelField = h("label", { "data-slot": "parallel" }, "Snapshot worker processes", f.parallel);
  f.mode.addEventListener("change", () => { parallelField.hidden = f.mode.value === "cdc-only"; });
  const result = h("div");
  const create = async (e) => {
    e.preventDefault();
    try {
      const job = await api.post(`/projects/${projectId}/jobs`, {
        mode: f.mode.value, target_uri: f.target.value.trim() || null, target_db: f.database.value.trim() || null,
        drop: f.drop.checked, on_error: f.onError.value, max_errors: f.maxErrors.value ? Number(f.maxErrors.value) : null,
        verify: f.verify.checked,
        parallel: f.parallel.value && f.mode.value !== "cdc-only" ? Number(f.parallel.value) : null,
        ...(f.engine.value === "kafka" && f.mode.value !== "snapshot" ? {
          engine: "kafka", kafka_bootstrap: f.bootstrap.value.trim() || null,
          kafka_partitions: Number(f.partitions.value), kafka_workers: Number(f.workers.value),
        } : {}),
      });
      location.hash = `#/jobs/${job.id}`;
    } catch (err) {
      clear(result, errorBox(err));
    }
  };
  clear(view,
    projectBar(project, "migration"),
    h("form", { class: "card", onsubmit: create, "data-slot": "create-job" },
      h("h2", {}, "Create Migration Job"),
      h("div", { class: "form-grid" },
        h("label", {}, "Mode", f.mode), h("label", {}, "Target MongoDB", f.target), h("label", {}, "Database", f.database),
        h("label", {}, "Error handling", f.onError), h("label", {}, "Stop after this many errors", f.maxErrors),
        h("label", {}, "CDC engine", f.engine), parallelField,
        h("div", { class: "stack" },
          h("label", { class: "inline" }, f.drop, "Drop destination collections first"),
          h("label", { class: "inline" }, f.verify, "Verify migrated data at the end"))),
      kafkaFields,
      result,
      h("div", { class: "actions" }, h("button", { class: "primary", type: "submit" }, "Create Migration Job"))),
    h("h2", {}, "Job history"),
    history);

  return poll(async () => {
    const jobs = await api.get(`/jobs?project_id=${encodeURIComponent(projectId)}`);
    clear(history, jobs.length ? h("table", { class: "list" },
      h("thead", {}, h("tr", {}, ["Job", "Mode", "Status", "CDC", "Stage", "Created", "Ended", "Issues"].map((t) => h("th", {}, t)))),
      h("tbody", {}, jobs.map((j) => h("tr", { class: "clickable", "data-job": j.id, onclick: () => { location.hash = `#/jobs/${j.id}`; } },
        h("td", {}, h("a", { href: `#/jobs/${j.id}` }, j.id)), h("td", {}, j.mode), h("td", { "data-status": j.status }, badge(j.status)),
        h("td", {}, j.mode === "snapshot" ? "—" : badge(j.cdc_status)), h("td", {}, j.stage),
        h("td", {}, when(j.created_at)), h("td", {}, when(j.ended_at)), h("td", {}, count(j.error_count))))))
      : h("div", { class: "empty" }, "No jobs yet."));
  }, 2000);
}

/** Rows per second per collection, from the samples the page has seen, for the ETA. */
class Rates {
  constructor() { this.samples = new Map(); }
  eta(p) {
    const now = Date.now() / 1000;
    const seen = (this.samples.get(p.collection) || []).filter(([t]) => now - t < 20);
    seen.push([now, p.rows_done]);
    this.samples.set(p.collection, seen);
    if (p.done || !p.rows_total) return null;
    const [t0, r0] = seen[0];
    const rate = now - t0 >= 1 ? (p.rows_done - r0) / (now - t0) : 0;
    return rate > 0 ? Math.max(0, p.rows_total - p.rows_done) / rate : null;
  }
}

/** Kafka mode: each task's health and restarts, and consumer lag per partition. */
function drawKafka(card, status) {
  card.hidden = !status;
  if (!status) return;
  const eps = status.events_per_second || {};
  clear(card,
    h("div", { class: "row" }, h("h2", { style: "margin:0" }, "Kafka"), h("span", { class: "spacer" }),
      h("span", { class: "muted mono" }, `${status.topic} · group ${status.group}`)),
    h("div", { class: "figures" }, [
      ["Published / s", count(Math.round(eps.published || 0))], ["Applied / s", count(Math.round(eps.applied || 0))],
      ["Last applied event", moment(status.last_applied_event_at)], ["Consumer lag", count(status.lag_total)],
    ].map(([name, value]) => h("div", { class: "figure", "data-figure": name }, h("div", { class: "value" }, value), h("div", { class: "name" }, name)))),
    h("table", { class: "list", "data-slot": "kafka-tasks" },
      h("thead", {}, h("tr", {}, ["Task", "State", "Restarts", "Last health check", "Checked", "Last error"].map((t) => h("th", {}, t)))),
      h("tbody", {}, (status.tasks || []).map((t) => h("tr", { "data-task": t.task },
        h("td", { class: "mono" }, t.task), h("td", {}, badge(t.state || "—")), h("td", {}, count(t.restarts)),
        h("td", {}, t.health || "—"), h("td", { class: "nowrap" }, moment(t.checked_at)), h("td", {}, t.last_error || "—"))))),
    h("table", { class: "list", "data-slot": "kafka-partitions" },
      h("thead", {}, h("tr", {}, ["Partition", "End offset", "Committed", "Lag"].map((t) => h("th", {}, t)))),
      h("tbody", {}, (status.partitions || []).map((p) => h("tr", {},
        h("td", {}, String(p.partition)), h("td", {}, count(p.end_offset)), h("td", {}, count(p.committed)), h("td", {}, count(p.lag)))))));
}

// What each control does, said before it is done (Cancel and Complete CDC cannot be undone).
const CONFIRM = {
  cancel: (job) => ({
    title: `Cancel job ${job.id}?`,
    body: [
      job.mode === "snapshot" ? "The snapshot stops where it is." : "Change data capture stops and the job's replication slot and publication are dropped, so its position at the source is gone.",
      "The documents already written stay in the target, partial: the target no longer follows the source. A cancelled job cannot be resumed.",
    ],
    confirm: "Cancel the job", danger: true,
  }),
  complete: (job) => ({
    title: `Complete CDC of job ${job.id}?`,
    body: [
      "This is the cutover: every change committed at the source until now is applied, then the replication slot and publication are dropped and the job ends as COMPLETED.",
      "Stop writing to the source first; changes made after this point do not reach the target.",
      job.options?.verify ? "The target is then verified against the source." : "",
    ].filter(Boolean),
    confirm: "Complete CDC",
  }),
};
const LABELS = { pause: "Pause", resume: "Resume", cancel: "Cancel", complete: "Complete CDC", update: "Update mapping" };
const REQUESTED = { pause: "Pause requested: the job stops after its current batch", resume: "Resume requested", cancel: "Cancel requested", complete: "Complete CDC requested: applying the pending changes", update: "Mapping update applied: the changed collections are copied in the background" };
// A mapping update's work per collection, as the job page shows it.
const UPDATE_STATES = { COPYING: "copying", COPIED: "swapping in", DONE: "done" };

/** The last mapping update of the job: what each collection's copy or drop has done. */
function updateCard(rows) {
  if (!rows || !rows.length) return null;
  return [h("h2", {}, "Mapping update"),
    h("table", { class: "list" },
      h("thead", {}, h("tr", {}, ["Collection", "Change", "State", "Roots copied"].map((t) => h("th", {}, t)))),
      h("tbody", {}, rows.map((u) => h("tr", { "data-update": u.collection },
        h("td", {}, h("strong", {}, u.collection)), h("td", {}, u.action === "drop" ? "dropped" : "copied again"),
        h("td", {}, badge(UPDATE_STATES[u.state] || u.state)),
        h("td", { class: "nowrap" }, u.action === "drop" ? "—" : `${count(u.rows_done)} / ${count(u.rows_total)}`)))))];
}
// What a status change means, for a toast when the page sees it happen.
const HAPPENED = { PAUSED: "Paused", RUNNING: "Resumed", CANCELLED: "Cancelled", COMPLETED: "Completed", FAILED: "Failed" };

/** Lag (line) and events applied per minute (bars) over the last hour. */
function chart(history) {
  const w = 600, hgt = 120, pad = 18;
  const now = Math.floor(Date.now() / 60000);
  const slots = Array.from({ length: 60 }, (_, i) => now - 59 + i);
  const byMinute = new Map(history.map((m) => [Math.floor(new Date(m.minute).getTime() / 60000), m]));
  const events = slots.map((t) => byMinute.get(t)?.events || 0);
  const lags = slots.map((t) => byMinute.get(t)?.lag_seconds);
  const maxE = Math.max(1, ...events), maxL = Math.max(1, ...lags.filter((v) => v !== null && v !== undefined));
  const x = (i) => pad + (i * (w - 2 * pad)) / 60;
  const bars = events.map((e, i) => s("rect", { class: "events", x: x(i), width: (w - 2 * pad) / 60 - 1, y: hgt - pad - ((hgt - 2 * pad) * e) / maxE, height: ((hgt - 2 * pad) * e) / maxE }));
  const points = lags.map((l, i) => (l === null || l === undefined ? null : `${x(i) + 4},${hgt - pad - ((hgt - 2 * pad) * l) / maxL}`)).filter(Boolean);
  const total = events.reduce((a, b) => a + b, 0);
  return s("svg", { class: "chart", viewBox: `0 0 ${w} ${hgt}`, role: "img", "aria-label": `Last hour: ${total} events applied, highest lag ${duration(maxL)}` },
    bars, points.length ? s("polyline", { class: "lag", points: points.join(" ") }) : null,
    s("text", { x: pad, y: 11 }, `events/min (bars, max ${count(maxE)}) · lag (line, max ${duration(maxL)})`),
    s("text", { x: pad, y: hgt - 4 }, "60 min ago"), s("text", { x: w - pad, y: hgt - 4, "text-anchor": "end" }, "now"));
}

function waitingText(w) {
  if (!w) return null;
  if (w.error) return `The source could not say what is waiting: ${w.error}`;
  const txns = w.transactions === null || w.transactions === undefined ? null : `${w.at_least ? "at least " : ""}${count(w.transactions)} transactions`;
  return `${txns ? `${txns} (${bytes(w.bytes)} of log)` : `${bytes(w.bytes)} of log`} waiting at the source; Resume applies them.`;
}

/** Documents with a value the target cannot store are not compared (the error policy wrote
 * them without it, or not at all): counted apart, so "equal" never hides them. */
function verifyCard(result) {
  if (!result) return null;
  const verdict = (c) => (c.ok ? "equal" : "different") + (c.unmigratable ? ` but ${count(c.unmigratable)} unmigratable` : "");
  const rows = result.collections.map((c) => h("tr", { "data-collection": c.name },
    h("td", {}, c.name), h("td", {}, count(c.expected)), h("td", {}, count(c.actual)), h("td", {}, count(c.missing)),
    h("td", {}, count(c.extra)), h("td", {}, count(c.different)), h("td", {}, count(c.unmigratable)),
    h("td", {}, h("span", { class: `badge ${!c.ok ? "bad" : c.unmigratable ? "warn" : "ok"}` }, verdict(c)))));
  const examples = result.collections.flatMap((c) => c.examples.map((d) => h("li", {}, `${c.name}: ${d.kind} ${d.key}${d.detail ? ` — ${d.detail}` : ""}`)));
  const unmigratable = result.collections.reduce((n, c) => n + c.unmigratable, 0);
  const summary = !result.ok ? "differences found"
    : unmigratable ? `target equals source except ${count(unmigratable)} unmigratable documents` : "target equals source";
  return [h("h2", {}, "Verification ", h("span", { class: `badge ${!result.ok ? "bad" : unmigratable ? "warn" : "ok"}`, "data-verify": result.ok ? "equal" : "different" }, summary)),
  unmigratable && result.ok ? h("p", { class: "muted" }, "A value the target cannot store: written without it or not at all, as the error policy said. The Issues list each with its key.") : null,
  h("table", { class: "list" }, h("thead", {}, h("tr", {}, ["Collection", "Expected", "Target", "Missing", "Extra", "Different", "Unmigratable", "Result"].map((t) => h("th", {}, t)))), h("tbody", {}, rows)),
  examples.length ? h("ul", { class: "small" }, examples) : null];
}

export async function renderJob(view, jobId) {
  let job = await api.get(`/jobs/${jobId}`);
  const project = job.project_id ? await api.get(`/projects/${job.project_id}`).catch(() => null) : null;
  const head = h("div", { class: "card", "data-slot": "job" });
  const progress = h("div", { class: "card", "data-slot": "progress" });
  const cdc = h("div", { class: "card", "data-slot": "cdc" });
  const verified = h("div", { class: "card", "data-slot": "verify" });
  const updating = h("div", { class: "card", "data-slot": "update" });
  const kafka = h("div", { class: "card", "data-slot": "kafka" });
  const issues = h("div", { class: "card", "data-slot": "issues" });
  const rates = new Rates();
  // Resume may change the error policy (a job stopped by a bad row under FAIL would stop on it
  // again). Made once, so a choice survives the page's refreshes.
  const resumeWith = {
    onError: h("select", { name: "resume_on_error" }, options(ON_ERROR, job.options?.on_error || "FAIL")),
    maxErrors: h("input", { name: "resume_max_errors", type: "number", min: 1, placeholder: "no limit", value: job.options?.max_errors ?? "" }),
  };
  const resumeBody = () => ({
    on_error: resumeWith.onError.value,
    max_errors: resumeWith.maxErrors.value ? Number(resumeWith.maxErrors.value) : null,
  });
  let seenStatus = job.status;
  clear(view,
    project ? projectBar(project, "migration") : h("div", { class: "page-head" }, h("h1", {}, "Job")),
    head, progress, updating, cdc, verified, kafka, issues);

  // The project's tables read again (a column added at the source), its rules kept.
  const refreshTables = async () => {
    try {
      const { changes } = await api.post(`/projects/${job.project_id}/refresh`, {});
      toast(changes.length ? `Tables refreshed: ${changes.join("; ")}` : "The tables are as the source has them");
    } catch (err) {
      toast(err.message, "error");
    }
  };

  // The project's mapping as saved now, applied to the running job: its plan is shown first.
  const update = async () => {
    try {
      const planned = await api.post(`/jobs/${jobId}/update`, { apply: false });
      const ok = await confirmDialog({
        title: `Apply the project's mapping to job ${job.id}?`,
        body: [...planned.lines, "Collections to rebuild or add are copied again in the background while change data capture goes on; each replaces its old version when complete. Dropped collections are removed from the target."],
        confirm: "Apply the mapping",
      });
      if (!ok) return;
      job = (await api.post(`/jobs/${jobId}/update`, { apply: true })).job;
      toast(REQUESTED.update);
      draw(null);
    } catch (err) {
      toast(err.message, "error");
    }
  };

  const act = async (action) => {
    if (action === "update") return update();
    if (CONFIRM[action] && !(await confirmDialog(CONFIRM[action](job)))) return;
    try {
      job = await api.post(`/jobs/${jobId}/${action}`, action === "resume" ? resumeBody() : {});
      toast(REQUESTED[action]);
      draw(null);
    } catch (err) {
      toast(err.message, "error");
    }
  };

  function draw(issueRows) {
    setTitle(`Job ${job.id} (${job.status})`, project?.name);
    if (job.status !== seenStatus && HAPPENED[job.status]) toast(HAPPENED[job.status], job.status === "FAILED" ? "error" : "info");
    seenStatus = job.status;
    const continuous = job.mode !== "snapshot";
    const can = new Set(job.actions || []);
    // Only the controls that apply now are shown; each keeps its focus across refreshes.
    const button = (action, cls = "") => (can.has(action)
      ? h("button", { class: cls, "data-action": action, "data-focus": action, onclick: () => act(action) }, LABELS[action]) : null);
    const failed = job.status === "FAILED" ? h("div", { class: "notice error", "data-slot": "failure" },
      h("strong", {}, "This job failed: "), job.failure || "no reason was recorded",
      can.has("resume")
        ? h("div", { class: "row", style: "margin-top:8px" },
          h("span", {}, job.resume_deadline
            ? `It can be resumed until ${when(job.resume_deadline)} (${duration((new Date(job.resume_deadline) - Date.now()) / 1000)} left).`
            : "It can be resumed from its last checkpoint."),
          h("label", {}, "Error handling from now on", resumeWith.onError),
          h("label", {}, "Stop after this many errors", resumeWith.maxErrors),
          h("button", { class: "primary", "data-action": "resume", "data-focus": "resume-failed", onclick: () => act("resume") }, "Resume"))
        : h("div", { style: "margin-top:8px" }, `It cannot be resumed: ${job.not_resumable_reason || "unknown reason"}.`)) : null;

    // A link failing right now: the job retries it from its checkpoint and says so meanwhile.
    const conditions = (job.conditions || []).length ? h("div", { class: "notice warn", role: "status", "data-slot": "conditions" },
      h("strong", {}, "Retrying a failing link"),
      h("ul", {}, job.conditions.map((c) => h("li", { "data-condition": c.link },
        `The ${c.name} link is failing since ${when(c.since)} (${count(c.attempts)} attempts${c.retry_at ? `, next retry at ${when(c.retry_at)}` : ""}): ${c.last_error}`)))) : null;

    // Schema drift at the source: a new column (the job goes on) or a breaking change (paused).
    const drift = (job.drift || []).length ? h("div", { class: `notice ${job.drift.some((d) => d.breaking) ? "error" : "warn"}`, role: "status", "data-slot": "drift" },
      h("strong", {}, job.drift.some((d) => d.breaking) ? "Paused by a schema change at the source" : "Schema drift at the source"),
      h("ul", {}, job.drift.map((d) => h("li", { "data-drift": d.kind }, `${when(d.since)}: ${d.text}`))),
      job.project_id ? h("div", { class: "row" },
        h("button", { "data-action": "refresh", "data-focus": "refresh", onclick: refreshTables }, "Refresh tables from the source"),
        h("span", { class: "muted small" }, "then Update mapping applies the project to this job")) : null,
      job.status === "PAUSED" && job.resume_deadline
        ? h("div", {}, `The source keeps this job's changes until ${when(job.resume_deadline)} (${duration((new Date(job.resume_deadline) - Date.now()) / 1000)} left).`)
        : null) : null;

    keepFocus(head, () => clear(head,
      h("div", { class: "job-head" },
        h("h2", { style: "margin:0" }, `Job ${job.id}`), h("span", { "data-status": job.status }, badge(job.status)),
        continuous ? h("span", { class: "small muted" }, "CDC ", badge(job.cdc_status)) : null,
        job.pending_request ? h("span", { class: "badge warn" }, `${job.pending_request.toLowerCase()} requested`) : null,
        h("span", { class: "spacer" }),
        button("pause"), job.status === "FAILED" ? null : button("resume", "primary"), button("cancel", "danger"),
        continuous ? button("complete", "primary") : null, button("update")),
      h("dl", { class: "meta" },
        h("dt", {}, "Mode"), h("dd", {}, job.mode), h("dt", {}, "Stage"), h("dd", {}, job.stage),
        h("dt", {}, "Target"), h("dd", { class: "mono" }, `${job.target_uri} ${job.target_db}`),
        h("dt", {}, "Error handling"), h("dd", {}, `${job.options?.on_error || "FAIL"}${job.options?.max_errors ? `, stop after ${job.options.max_errors}` : ""}`),
        job.options?.parallel ? [h("dt", {}, "Snapshot"), h("dd", { "data-slot": "parallel" }, `${job.options.parallel} worker process${job.options.parallel > 1 ? "es" : ""}, tables split into key ranges`)] : null,
        h("dt", {}, "Created"), h("dd", {}, when(job.created_at)), h("dt", {}, "Started"), h("dd", {}, when(job.started_at)),
        h("dt", {}, "Ended"), h("dd", {}, when(job.ended_at)), h("dt", {}, "Heartbeat"), h("dd", {}, when(job.heartbeat_at))),
      conditions, drift, failed));

    const rows = job.progress || [];
    const done = rows.filter((p) => p.done).length;
    const migrated = rows.reduce((n, p) => n + (p.rows_done || 0), 0);
    clear(progress,
      h("div", { class: "row" }, h("h2", { style: "margin:0" }, "Snapshot"), h("span", { class: "spacer" }),
        h("span", { class: "muted" }, `${done} of ${rows.length} tables migrated · ${count(migrated)} rows`)),
      rows.length ? h("table", { class: "list" },
        h("thead", {}, h("tr", {}, ["Collection", "Table", "Progress", "Rows", "%", "ETA"].map((t) => h("th", {}, t)))),
        h("tbody", {}, rows.map((p) => {
          const total = p.rows_total ? Math.max(p.rows_total, p.rows_done) : null;
          const pct = p.done ? 100 : total ? Math.min(99.9, (100 * p.rows_done) / total) : 0;
          const eta = rates.eta(p);
          return h("tr", { "data-collection": p.collection },
            h("td", {}, h("strong", {}, p.collection)), h("td", { class: "muted" }, p.table_id),
            h("td", { style: "width:35%" }, h("div", { class: `bar${p.done ? " done" : ""}`, role: "progressbar", "aria-label": `${p.collection} progress`, "aria-valuenow": Math.round(pct), "aria-valuemin": 0, "aria-valuemax": 100 }, h("span", { style: `width:${pct}%` }))),
            h("td", { class: "nowrap" }, `${count(p.rows_done)} / ${count(total)}`),
            h("td", {}, `${pct.toFixed(p.done ? 0 : 1)}%`),
            h("td", {}, p.done ? "done" : eta === null ? "—" : duration(eta)));
        })))
        : h("p", { class: "muted" }, job.stage === "CDC" && job.mode === "cdc-only" ? "A CDC-only job copies no snapshot." : "Waiting for the snapshot to start…"));

    const stats = job.stats || {};
    const paused = job.status === "PAUSED";
    cdc.hidden = !continuous;
    clear(cdc, h("h2", {}, "Change data capture"),
      paused && job.waiting ? h("div", { class: "notice warn", "data-slot": "waiting" }, waitingText(job.waiting)) : null,
      h("div", { class: "figures" }, [
        ["Last event", moment(stats.last_event_at)], ["Events seen", count(stats.events_total)],
        // Counted per minute: each window starts at a minute boundary, and says which.
        [`Events since ${moment(stats.events_counted_from?.minute)}`, count(stats.events_last_minute), "events-minute"],
        [`Events since ${moment(stats.events_counted_from?.hour)}`, count(stats.events_last_hour), "events-hour"],
        // A paused job's recorded lag is frozen; what matters is what waits (above).
        ["Lag", paused ? "paused" : stats.lag_seconds === null || stats.lag_seconds === undefined ? "—" : duration(stats.lag_seconds)],
        // A paused job measures nothing: what waits at the source is measured when asked.
        ["Slot lag", job.slot_dropped ? "slot dropped" : paused && job.waiting && "bytes" in job.waiting ? bytes(job.waiting.bytes) : bytes(stats.slot_lag_bytes)],
      ].map(([name, value, key]) => h("div", { class: "figure", "data-figure": key || name }, h("div", { class: "value" }, value), h("div", { class: "name" }, name)))),
      h("div", { "data-slot": "chart" }, history ? chart(history) : null));

    updating.hidden = !(job.update || []).length;
    clear(updating, updateCard(job.update));
    verified.hidden = !job.verify_result;
    clear(verified, verifyCard(job.verify_result));
    drawKafka(kafka, job.kafka);

    if (issueRows) {
      clear(issues, h("h2", {}, `Issues (${count(job.error_count)})`),
        issueRows.length ? h("table", { class: "list issues" },
          h("colgroup", {}, h("col", { style: "width:11%" }), h("col", { style: "width:9%" }), h("col", { style: "width:11%" }), h("col", { style: "width:12%" }),
            h("col", { style: "width:8%" }), h("col", { style: "width:10%" }), h("col", { class: "detail" })),
          h("thead", {}, h("tr", {}, ["Time", "Severity", "Collection", "Table", "Key", "Field", "Detail"].map((t) => h("th", {}, t)))),
          h("tbody", {}, issueRows.map((i) => h("tr", {},
            h("td", {}, when(i.last_at || i.at)), h("td", {}, h("span", { class: `badge ${i.severity === "ERROR" ? "bad" : "warn"}` }, i.severity)),
            h("td", {}, i.collection || "—"), h("td", {}, i.table_id || "—"), h("td", { class: "mono" }, i.key || "—"),
            h("td", {}, i.field || "—"), h("td", {}, i.detail, i.occurrences > 1 ? h("span", { class: "muted small" }, ` (seen ${i.occurrences} times)`) : null)))))
          : h("p", { class: "muted" }, "No issues."));
    }
  }

  let history = null;
  let historyAt = 0;
  return poll(async () => {
    const [next, issueRows] = await Promise.all([api.get(`/jobs/${jobId}`), api.get(`/jobs/${jobId}/issues`)]);
    if (next.mode !== "snapshot" && Date.now() - historyAt > 15000) {
      history = await api.get(`/jobs/${jobId}/history?minutes=60`);
      historyAt = Date.now();
    }
    job = next;
    draw(issueRows);
  }, 1000);
}
