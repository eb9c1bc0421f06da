// The mapping page: both models side by side, the rules of the selected table or collection,
// a rule editor whose problems are shown where they are, and document previews from real rows.

import { api } from "./api.js";
import { clear, confirmButton, count, errorBox, h, keepFocus, options, setTitle, toast } from "./dom.js";
import { documentDiagram, relationalDiagram } from "./diagram.js";
import { BSON_TYPES, expressionEditor, idEditor, linksOf, relationshipPanel } from "./modeling.js";
import { projectBar } from "./projects.js";

const KIND_LABEL = { new: "New documents", array: "Embedded array", document: "Embedded documents" };

const copy = (value) => JSON.parse(JSON.stringify(value));
const tableId = (t) => `${t.schema}.${t.name}`;
const prefixOf = (path) => path.map((i) => `.embeds[${i}]`).join("");

function nodeAt(rule, path) {
  return path.reduce((node, i) => node.embeds[i], rule);
}

/** Every rule of a collection, root first, each with its path of embed indexes. */
function rulesOf(collection) {
  const out = [{ collection, path: [], node: collection, kind: "new", depth: 0 }];
  const walk = (node, path) => (node.embeds || []).forEach((e, i) => {
    out.push({ collection, path: [...path, i], node: e, kind: e.kind, depth: path.length + 1 });
    walk(e, [...path, i]);
  });
  walk(collection, []);
  return out;
}

/** Where a table can be embedded: under any node whose table it has a foreign key with. */
function attachPoints(project, table, collections) {
  const tables = Object.fromEntries(project.tables.map((t) => [tableId(t), t]));
  const out = [];
  for (const c of collections) {
    for (const r of rulesOf(c)) {
      if (r.node.primitive) continue;
      const holder = tables[r.node.table];
      if (!holder || holder === table) continue;
      const where = [c.name, ...r.path.map((_, k) => nodeAt(c, r.path.slice(0, k + 1)).field)].join(" › ");
      for (const fk of linksOf(project, table).filter((f) => f.ref_table === r.node.table)) {
        out.push({ kind: "array", collection: c, path: r.path, table, fk, label: `Embedded array of ${table.name} in ${where} (${fk.name})` });
      }
      for (const fk of linksOf(project, holder).filter((f) => f.ref_table === tableId(table))) {
        out.push({ kind: "document", collection: c, path: r.path, table, fk, label: `Embedded documents: ${table.name} in ${where} (${fk.name})` });
      }
    }
  }
  return out;
}

// Fit to view shrinks no further than this (12 px names drawn at 8 px): past it the pane
// scrolls, since a drawing too small to read shows nothing.
const LEGIBLE_ZOOM = 2 / 3;

/**
 * A diagram pane's tools: zoom out / in, fit to view, and search (boxes whose name or fields
 * match are marked; Enter moves focus to the first). The zoom survives redraws.
 */
function diagramPane(name, label) {
  const pane = h("div", { class: "canvas", "data-pane": name, role: "region", "aria-label": label });
  const state = { zoom: 1, fit: false, query: "" };
  const shown = h("span", { class: "zoom", "aria-live": "polite" }, "100%");
  const search = h("input", { type: "search", name: `search-${name}`, placeholder: "Search names", "aria-label": `Search the ${label}` });
  const apply = () => {
    const svg = pane.querySelector("svg");
    if (!svg) return;
    const w = Number(svg.dataset.width), hgt = Number(svg.dataset.height);
    if (state.fit) state.zoom = Math.min(2, Math.max(LEGIBLE_ZOOM, Math.min((pane.clientWidth - 4) / w, (pane.clientHeight - 4) / hgt)));
    svg.setAttribute("width", Math.round(w * state.zoom));
    svg.setAttribute("height", Math.round(hgt * state.zoom));
    shown.textContent = `${Math.round(state.zoom * 100)}%`;
    const q = state.query.trim().toLowerCase();
    const boxes = [...svg.querySelectorAll("g.box")];
    for (const g of boxes) g.classList.toggle("match", !!q && g.textContent.toLowerCase().includes(q));
  };
  const zoomBy = (factor) => { state.fit = false; state.zoom = Math.min(3, Math.max(0.2, state.zoom * factor)); apply(); };
  search.addEventListener("input", () => {
    state.query = search.value;
    apply();
    pane.querySelector("g.box.match")?.scrollIntoView({ block: "nearest", inline: "nearest" });
  });
  search.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); pane.querySelector("g.box.match .handle")?.focus(); } });
  pane.addEventListener("wheel", (e) => { if (e.ctrlKey) { e.preventDefault(); zoomBy(e.deltaY < 0 ? 1.1 : 1 / 1.1); } }, { passive: false });
  const tools = h("div", { class: "tools" },
    h("button", { type: "button", class: "small", "aria-label": `Zoom out of the ${label}`, onclick: () => zoomBy(1 / 1.25) }, "−"),
    shown,
    h("button", { type: "button", class: "small", "aria-label": `Zoom into the ${label}`, onclick: () => zoomBy(1.25) }, "+"),
    h("button", { type: "button", class: "small", onclick: () => { state.fit = true; apply(); } }, "Fit to view"),
    search);
  /** Show a freshly drawn diagram at the current zoom, keeping the focused box focused. */
  const show = (svg) => {
    svg.dataset.width = svg.getAttribute("width");
    svg.dataset.height = svg.getAttribute("height");
    svg.setAttribute("viewBox", `0 0 ${svg.dataset.width} ${svg.dataset.height}`);
    keepFocus(pane, () => clear(pane, svg));
    apply();
  };
  return { pane, tools, show };
}

export async function renderMapping(view, projectId) {
  let project = await api.get(`/projects/${projectId}`);
  let selection = null;
  let editing = null; // {original: collection name or null when new, draft, path}
  setTitle("Mapping", project.name);

  const rel = diagramPane("relational", "relational model");
  const doc = diagramPane("documents", "MongoDB model");
  const relPane = rel.pane;
  const docPane = doc.pane;
  const tableCount = h("span", { class: "muted small" });
  const collectionCount = h("span", { class: "muted small" });
  const listSlot = h("div", { class: "card", "data-slot": "rules" });
  const editSlot = h("div", { class: "card", "data-slot": "editor" });
  const warnSlot = h("div", { "data-slot": "warnings" });

  clear(view,
    projectBar(project, "mapping"),
    warnSlot,
    h("div", { class: "models" },
      h("section", { class: "model-pane", "aria-labelledby": "rel-title" },
        h("header", {}, h("h2", { id: "rel-title" }, "Relational model"), tableCount,
          h("span", { class: "legend" }, h("span", {}, h("i", { style: "border:1px dashed #b8c6cc" }), "not mapped"),
            h("span", {}, h("i", { style: "background:#5fb896" }), "in selection"),
            h("span", {}, h("i", { style: "border-top:2px dashed #9fb2bb;height:0" }), "synthetic link"))),
        rel.tools, relPane),
      h("section", { class: "model-pane", "aria-labelledby": "doc-title" },
        h("header", {}, h("h2", { id: "doc-title" }, "MongoDB model"), collectionCount,
          h("span", { class: "legend" }, h("span", {}, h("i", { style: "background:#c0641f" }), "array"),
            h("span", {}, h("i", { style: "background:#1f6fb2" }), "sub-document"))),
        doc.tools, docPane)),
    h("div", { class: "rules" }, listSlot, editSlot));

  const model = () => project.project;
  const select = (next) => { selection = next; editing = null; draw(); };

  function draw() {
    tableCount.textContent = `${project.tables} tables`;
    collectionCount.textContent = `${project.collections} collections`;
    clear(warnSlot, (project.warnings || []).length ? h("div", { class: "notice warn", role: "status" }, "Allowed, but consider changing:",
      h("ul", {}, project.warnings.map((w) => h("li", {}, h("span", { class: "path" }, `${w.path}: `), w.message)))) : null);
    rel.show(relationalDiagram(model(), selection, relPane.clientWidth || 600, select));
    doc.show(documentDiagram(model(), selection, docPane.clientWidth || 600, select, project.bson_types));
    // The collections that use a selected table come into view.
    if (selection?.kind === "table") docPane.querySelector("g.box.related")?.scrollIntoView({ block: "nearest", inline: "nearest" });
    drawList();
    if (editing) drawEditor(); else drawSide();
  }

  function saved(next, message) {
    project = next;
    toast(message);
    draw();
  }

  // --- the rules of the selection ----------------------------------------------------------

  function ruleItem(r) {
    const current = editing && editing.original === r.collection.name && prefixOf(editing.path) === prefixOf(r.path);
    const where = r.kind === "new" ? `collection ${r.collection.name} ← ${r.node.table}` : `${r.node.field} in ${r.collection.name} ← ${r.node.table}`;
    const remove = async () => {
      try {
        if (!r.path.length) {
          saved(await api.del(`/projects/${projectId}/collections/${encodeURIComponent(r.collection.name)}`), `Deleted ${r.collection.name}`);
        } else {
          const draft = copy(r.collection);
          nodeAt(draft, r.path.slice(0, -1)).embeds.splice(r.path.at(-1), 1);
          saved(await api.put(`/projects/${projectId}/collections/${encodeURIComponent(r.collection.name)}`, draft), "Rule deleted");
        }
      } catch (err) { toast(err.message, "error"); }
    };
    return h("li", { class: current ? "current" : null, style: `padding-left:${8 + r.depth * 14}px`, "data-rule": `${r.collection.name}${prefixOf(r.path)}` },
      h("div", { class: "label" }, h("div", { class: `kind ${r.kind}` }, KIND_LABEL[r.kind]), h("div", { class: "where" }, where)),
      h("button", { class: "small", onclick: () => edit(r.collection.name, copy(r.collection), r.path) }, "Edit"),
      confirmButton("Delete", remove));
  }

  function drawList() {
    const m = model();
    if (!selection) {
      clear(listSlot, h("h2", {}, "Rules"), h("p", { class: "muted" }, "Select a table or a collection in the diagrams to see and edit its rules."));
      return;
    }
    if (selection.kind === "table") {
      const table = m.tables.find((t) => tableId(t) === selection.id);
      const rules = m.collections.flatMap(rulesOf).filter((r) => r.node.table === selection.id);
      const points = attachPoints(m, table, m.collections);
      const pick = h("select", { name: "add-rule", "aria-label": `Add a rule for ${selection.id}` }, options([["", "Add a rule…"], ["new", "New documents (a collection)"],
        ...points.map((p, i) => [String(i), p.label])], ""));
      pick.addEventListener("change", () => {
        if (pick.value === "new") newCollection(table);
        else if (pick.value) addEmbed(points[Number(pick.value)]);
      });
      clear(listSlot, h("h2", {}, `Table ${selection.id}`),
        rules.length ? h("ul", { class: "rule-list" }, rules.map(ruleItem)) : h("p", { class: "muted" }, "No rule maps this table yet."),
        h("div", { class: "actions" }, pick),
        filterForm(table),
        relationshipPanel(m, table, projectId, saved));
      return;
    }
    const collection = m.collections.find((c) => c.name === selection.name);
    if (!collection) { selection = null; drawList(); return; }
    const points = m.tables.flatMap((t) => attachPoints(m, t, [collection]));
    const pick = h("select", { name: "add-rule", "aria-label": `Add an embedded rule to ${collection.name}` }, options([["", "Add an embedded rule…"], ...points.map((p, i) => [String(i), p.label])], ""));
    pick.addEventListener("change", () => { if (pick.value) addEmbed(points[Number(pick.value)]); });
    clear(listSlot, h("h2", {}, `Collection ${collection.name}`),
      h("ul", { class: "rule-list" }, rulesOf(collection).map(ruleItem)),
      h("div", { class: "actions" }, pick));
  }

  function filterForm(table) {
    const id = tableId(table);
    const current = model().filters[id] || {};
    const where = h("input", { name: "filter-where", value: current.where || "", placeholder: "SQL condition, e.g. active = true" });
    const limit = h("input", { name: "filter-limit", type: "number", min: 1, value: current.limit ?? "", placeholder: "all rows" });
    const result = h("div");
    const save = async (e) => {
      e.preventDefault();
      try {
        saved(await api.put(`/projects/${projectId}/filters/${encodeURIComponent(id)}`,
          { where: where.value.trim() || null, limit: limit.value ? Number(limit.value) : null }), "Filter saved");
      } catch (err) { clear(result, errorBox(err)); }
    };
    const remove = async () => {
      try { saved(await api.del(`/projects/${projectId}/filters/${encodeURIComponent(id)}`), "Filter removed"); } catch (err) { clear(result, errorBox(err)); }
    };
    return h("form", { class: "stack", style: "margin-top:16px", onsubmit: save },
      h("h3", {}, "Snapshot filter"),
      h("label", {}, "WHERE", where), h("label", {}, "Row limit", limit), result,
      h("div", { class: "row" }, h("button", { type: "submit", class: "small" }, "Save filter"),
        model().filters[id] ? h("button", { type: "button", class: "small", onclick: remove }, "Remove filter") : null));
  }

  // --- editing -------------------------------------------------------------------------------

  function edit(original, draft, path) {
    editing = { original, draft, path, problems: [] };
    draw();
  }

  // New rules come from the server, so they use the project's field casing as import does.
  async function newCollection(table) {
    try {
      edit(null, await api.post(`/projects/${projectId}/rules/new`, { kind: "new", table: tableId(table) }), []);
    } catch (err) { toast(err.message, "error"); }
  }

  async function addEmbed(point) {
    const draft = copy(point.collection);
    const parent = nodeAt(draft, point.path);
    try {
      const rule = await api.post(`/projects/${projectId}/rules/new`,
        { kind: point.kind, table: tableId(point.table), parent: parent.table, foreign_key: point.fk.name });
      parent.embeds = parent.embeds || [];
      parent.embeds.push(rule);
      edit(point.collection.name, draft, [...point.path, parent.embeds.length - 1]);
    } catch (err) { toast(err.message, "error"); }
  }

  async function save() {
    const { original, draft } = editing;
    try {
      const next = original === null
        ? await api.post(`/projects/${projectId}/collections`, draft)
        : await api.put(`/projects/${projectId}/collections/${encodeURIComponent(original)}`, draft);
      editing = { ...editing, original: draft.name, draft: copy(next.project.collections.find((c) => c.name === draft.name)), problems: [] };
      selection = { kind: "collection", name: draft.name };
      saved(next, "Rule saved");
    } catch (err) {
      editing.problems = err.problems.length ? err.problems : [{ path: "", message: err.message }];
      drawEditor();
    }
  }

  async function previewDraft(target) {
    clear(target, h("p", { class: "muted" }, "building a document from the source…"));
    try {
      showPreview(target, await api.post(`/projects/${projectId}/preview`, editing.draft));
    } catch (err) {
      if (err.problems.length) { editing.problems = err.problems; drawEditor(); } else clear(target, errorBox(err));
    }
  }

  function drawEditor() {
    const { draft, path, problems } = editing;
    const node = nodeAt(draft, path);
    const prefix = prefixOf(path);
    const table = model().tables.find((t) => tableId(t) === node.table);
    const fieldProblem = (col) => problems.find((p) => p.path.startsWith(`${prefix}.fields.${col}`));
    // A problem the user fixed leaves the list at once; the rest are asked of the server again
    // (the one validator), since fixing one rule can clear a problem said at another.
    const problemSlot = h("div");
    const fixed = async (test) => {
      editing.problems = editing.problems.filter((p) => !test(p.path));
      if (editing.problems.length) {
        try {
          await api.post(`/projects/${projectId}/check`, draft);
          editing.problems = [];
        } catch (err) { if (err.problems?.length) editing.problems = err.problems; }
      }
      showProblems(problemSlot, draft, prefix);
    };
    const kind = path.length ? node.kind : "new";
    const title = path.length ? `${KIND_LABEL[kind]}: ${node.field}` : `${KIND_LABEL.new}: ${node.name}`;
    const bind = (key, el, parse = (v) => v) => {
      el.addEventListener("change", () => {
        const value = el.type === "checkbox" ? el.checked : parse(el.value);
        if (value === null || value === "" || value === false) delete node[key]; else node[key] = value;
        el.classList.remove("invalid");
        fixed((p) => p === `${prefix}.${key}`);
      });
      if (problems.some((p) => p.path === `${prefix}.${key}`)) el.classList.add("invalid");
      return el;
    };

    const optionsGrid = path.length ? [
      h("label", {}, "Field", bind("field", h("input", { name: "field", value: node.field }))),
      h("label", {}, "Table", h("input", { value: `${node.table} (${node.foreign_key})`, disabled: true })),
      ...(node.kind === "array" ? [
        h("label", {}, "Array of primitive values", bind("primitive", h("select", { name: "primitive" },
          options([["", "no: documents"], ...table.columns.map((c) => [c.name, `yes: ${c.name}`])], node.primitive || "")))),
        h("label", {}, "Sort by", sortInput(node, table)),
        h("label", {}, "Limit", bind("limit", h("input", { name: "limit", type: "number", min: 1, value: node.limit ?? "" }), (v) => (v ? Number(v) : null))),
      ] : [
        h("label", { class: "inline" }, bind("merge", h("input", { type: "checkbox", name: "merge", checked: !!node.merge })), "Merge fields into the parent"),
      ]),
    ] : [
      h("label", {}, "Collection name", bind("name", h("input", { name: "name", value: node.name }))),
      h("label", {}, "Table", h("input", { value: node.table, disabled: true })),
      ...idEditor(node, problems, drawEditor),
    ];

    const inheritsKey = ["inherit", "wrap", undefined].includes(node.id);
    const inId = !path.length && inheritsKey ? new Set(table.primary_key) : new Set();
    const fieldRows = table.columns.map((c) => {
      node.fields = node.fields || {};
      const rule = node.fields[c.name] || {};
      const problem = fieldProblem(c.name);
      const update = (key, value) => {
        const next = { ...(node.fields[c.name] || {}), [key]: value };
        for (const [k, v] of Object.entries(next)) {
          if (v === "" || v === null || (k === "include" && v === true) || (k === "nulls" && v === "null")) delete next[k];
        }
        if (Object.keys(next).length) node.fields[c.name] = next; else delete node.fields[c.name];
        row.classList.toggle("excluded", next.include === false);
        row.classList.remove("invalid");
        row.querySelector(".field-error")?.remove();
        fixed((p) => p.startsWith(`${prefix}.fields.${c.name}`));
      };
      const row = h("tr", { class: [problem ? "invalid" : "", rule.include === false ? "excluded" : ""].join(" "), "data-column": c.name },
        h("td", {}, inId.has(c.name) ? h("span", { class: "muted small" }, "_id")
          : h("input", { type: "checkbox", "aria-label": `Include ${c.name}`, checked: rule.include !== false, onchange: (e) => update("include", e.target.checked) })),
        h("td", { class: "col" }, c.name, h("div", { class: "muted small" }, c.type)),
        h("td", {}, h("input", { type: "text", name: `name-${c.name}`, "aria-label": `Field name for ${c.name}`, value: rule.name || "", placeholder: c.name, onchange: (e) => update("name", e.target.value.trim()) }),
          problem ? h("div", { class: "field-error" }, problem.message) : null),
        h("td", {}, h("select", { "aria-label": `BSON type of ${c.name}`, onchange: (e) => update("type", e.target.value) }, options([["", `from the column (${project.bson_types?.[node.table]?.[c.name] || c.type})`], ...BSON_TYPES.map((t) => [t, t])], rule.type || ""))),
        h("td", {}, h("select", { "aria-label": `Nulls in ${c.name}`, onchange: (e) => update("nulls", e.target.value) }, options([["null", "insert null"], ["omit", "omit"]], rule.nulls || "null"))));
      return row;
    });

    const previewSlot = h("div");
    clear(editSlot,
      h("h2", {}, title, editing.original === null ? h("span", { class: "badge warn", style: "margin-left:8px" }, "not saved") : null),
      showProblems(problemSlot, draft, prefix),
      h("div", { class: "form-grid" }, optionsGrid),
      node.primitive ? null : h("table", { class: "fields", style: "margin-top:14px" },
        h("thead", {}, h("tr", {}, ["Include", "Column", "Field name", "BSON type", "Nulls"].map((t) => h("th", {}, t)))),
        h("tbody", {}, fieldRows)),
      expressionEditor(node, problems, prefix, drawEditor),
      h("div", { class: "actions" },
        h("button", { class: "primary", onclick: save }, "Save rule"),
        h("button", { onclick: () => previewDraft(previewSlot) }, "Preview document"),
        h("button", { onclick: () => { editing = null; draw(); } }, "Close")),
      previewSlot);
  }

  /** The rule's problems, said at the rule being edited; a problem of another rule of the
   * collection is said with that rule's name, not as if it were this one's. */
  function showProblems(slot, draft, prefix) {
    const problems = editing.problems;
    const own = (p) => p.path === prefix || (p.path.startsWith(prefix) && !p.path.slice(prefix.length).startsWith(".embeds["));
    const where = (p) => {
      const path = [...p.path.matchAll(/\.embeds\[(\d+)\]/g)].map((m) => Number(m[1]));
      const other = path.length ? nodeAt(draft, path) : draft;
      const rest = p.path.replace(/^(\.embeds\[\d+\])*/, "");
      return `the rule ${path.length ? `${other.field} (${other.table})` : other.name}${rest ? ` ${rest}` : ""}`;
    };
    const mine = problems.filter(own), others = problems.filter((p) => !own(p));
    return clear(slot, problems.length ? h("div", { class: "notice error", role: "alert", "data-problems": "" },
      mine.length ? ["This rule is not valid yet:",
        h("ul", {}, mine.map((p) => h("li", {}, h("span", { class: "path" }, `${p.path.slice(prefix.length) || "rule"}: `), p.message)))] : null,
      others.length ? [`${mine.length ? "Also, elsewhere" : "Elsewhere"} in this collection:`,
        h("ul", {}, others.map((p) => h("li", { "data-elsewhere": p.path }, h("span", { class: "path" }, `${where(p)}: `), p.message)))] : null) : null);
  }

  function sortInput(node, table) {
    const text = (node.sort || []).map((k) => `${k.column}${k.descending ? " desc" : ""}`).join(", ");
    const input = h("input", { name: "sort", value: text, placeholder: "e.g. unit_price desc" });
    input.addEventListener("change", () => {
      const keys = input.value.split(",").map((x) => x.trim()).filter(Boolean).map((x) => {
        const [column, dir] = x.split(/\s+/);
        return { column, descending: /^desc/i.test(dir || "") };
      });
      if (keys.length) node.sort = keys; else delete node.sort;
    });
    input.title = `Columns of ${table.name}, comma-separated, each optionally followed by desc`;
    return input;
  }

  // --- the side panel without an editor: what the selection is, and its preview ------------

  function drawSide() {
    if (selection?.kind !== "collection") {
      clear(editSlot, h("h2", {}, "Rule editor"), h("p", { class: "muted" },
        "Choose Edit on a rule, or add one. Tables become collections (New documents); child rows become arrays; ",
        "referenced rows become sub-documents."));
      return;
    }
    const target = h("div");
    clear(editSlot, h("div", { class: "row" }, h("h2", { style: "margin:0" }, `Preview of ${selection.name}`), h("span", { class: "spacer" }),
      h("button", { class: "small", onclick: () => load() }, "Another sample")), target);
    let limit = 1;
    const load = async () => {
      clear(target, h("p", { class: "muted" }, "building a document from the source…"));
      try {
        const preview = await api.get(`/projects/${projectId}/collections/${encodeURIComponent(selection.name)}/preview?limit=${limit}`);
        preview.documents = preview.documents.slice(-1);
        showPreview(target, preview);
        limit = limit >= 20 ? 1 : limit + 1;
      } catch (err) { clear(target, errorBox(err)); }
    };
    load();
  }

  function showPreview(target, preview) {
    clear(target,
      preview.documents.length ? preview.documents.map((doc) => h("pre", { class: "json", "data-preview": preview.collection }, JSON.stringify(doc, null, 2)))
        : h("p", { class: "muted", "data-slot": "no-document" }, preview.rows
          ? `No document from the ${count(preview.rows)} row${preview.rows === 1 ? "" : "s"} read: ${preview.problems.length ? "see what they met below" : "the rule's filter left them out"}.`
          : "The source table has no rows."),
      preview.problems.length ? h("div", { class: "notice warn" }, "What these rows met:",
        h("ul", {}, preview.problems.map((p) => h("li", {}, `${p.table} ${p.key} ${p.field}: ${p.reason}`)))) : null);
  }

  draw();
}
