// Modeling beyond declared keys, on the mapping page: synthetic relationships (drawn dashed on
// the relational diagram, followed by rules like foreign keys), and a rule's filter, calculated
// fields and custom _id, all written in Relational Migrator's JavaScript over columns["name"].
// The server checks everything with the project validator; its problems show where they are.

import { api } from "./api.js";
import { clear, confirmButton, errorBox, h, options } from "./dom.js";

export const BSON_TYPES = ["string", "int32", "int64", "double", "decimal", "bool", "date", "objectId", "binary"];

const tableId = (t) => `${t.schema}.${t.name}`;
const list = (text) => text.split(",").map((x) => x.trim()).filter(Boolean);

/** The foreign keys a table holds, declared and synthetic: what rules can follow. */
export function linksOf(project, table) {
  const id = tableId(table);
  const synthetic = (project.relationships || []).filter((r) => r.child.table === id).map((r) => ({
    name: r.name, columns: r.child.columns, ref_table: r.parent.table, ref_columns: r.parent.columns, synthetic: true,
  }));
  return [...table.foreign_keys, ...synthetic];
}

/** The synthetic relationships a table takes part in, with add, edit and delete. */
export function relationshipPanel(project, table, projectId, onSaved) {
  const id = tableId(table);
  const mine = (project.relationships || []).filter((r) => r.child.table === id || r.parent.table === id);
  const formSlot = h("div");
  const result = h("div");

  const form = (original) => {
    const rel = original || { name: "", child: { table: id, columns: [] }, parent: { table: "", columns: [] }, cardinality: "one-to-many" };
    const tables = project.tables.map(tableId);
    const name = h("input", { name: "rel-name", value: rel.name, placeholder: "e.g. orders_customer" });
    const child = h("select", { name: "rel-child" }, options(tables.map((t) => [t, t]), rel.child.table));
    const childCols = h("input", { name: "rel-child-columns", value: rel.child.columns.join(", "), placeholder: "e.g. customer_id" });
    const parent = h("select", { name: "rel-parent" }, options([["", "choose…"], ...tables.map((t) => [t, t])], rel.parent.table));
    const parentCols = h("input", { name: "rel-parent-columns", value: rel.parent.columns.join(", "), placeholder: "e.g. id" });
    const cardinality = h("select", { name: "rel-cardinality" },
      options([["one-to-many", "one-to-many"], ["one-to-one", "one-to-one"]], rel.cardinality || "one-to-many"));
    const save = async (e) => {
      e.preventDefault();
      const body = {
        name: name.value.trim(), cardinality: cardinality.value,
        child: { table: child.value, columns: list(childCols.value) },
        parent: { table: parent.value, columns: list(parentCols.value) },
      };
      try {
        const next = original
          ? await api.put(`/projects/${projectId}/relationships/${encodeURIComponent(original.name)}`, body)
          : await api.post(`/projects/${projectId}/relationships`, body);
        onSaved(next, `Relationship ${body.name} saved`);
      } catch (err) { clear(result, errorBox(err)); }
    };
    return h("form", { class: "stack", "data-form": "relationship", onsubmit: save },
      h("h3", {}, original ? `Edit ${original.name}` : "New synthetic relationship"),
      h("label", {}, "Name", name),
      h("label", {}, "Child table (holds the link columns)", child), h("label", {}, "Child columns", childCols),
      h("label", {}, "Parent table", parent), h("label", {}, "Parent columns", parentCols),
      h("label", {}, "Cardinality", cardinality), result,
      h("div", { class: "row" }, h("button", { type: "submit", class: "small primary" }, "Save relationship"),
        h("button", { type: "button", class: "small", onclick: () => clear(formSlot) }, "Cancel")));
  };

  const item = (r) => h("li", { "data-relationship": r.name },
    h("div", { class: "label" }, h("div", { class: "kind synthetic" }, r.name),
      h("div", { class: "where" }, `${r.child.table}(${r.child.columns.join(", ")}) → ${r.parent.table}(${r.parent.columns.join(", ")}), ${r.cardinality || "one-to-many"}`),
      r.evidence ? h("div", { class: "muted small" }, r.evidence) : null),
    h("button", { class: "small", type: "button", onclick: () => clear(formSlot, form(r)) }, "Edit"),
    confirmButton("Delete", async () => {
      try {
        onSaved(await api.del(`/projects/${projectId}/relationships/${encodeURIComponent(r.name)}`), `Relationship ${r.name} deleted`);
      } catch (err) { clear(result, errorBox(err)); }
    }));

  return h("div", { class: "stack", style: "margin-top:16px", "data-slot": "relationships" },
    h("h3", {}, "Synthetic relationships"),
    h("p", { class: "muted small" }, "Links the database does not declare; rules follow them like foreign keys."),
    mine.length ? h("ul", { class: "rule-list" }, mine.map(item)) : null, result,
    h("div", { class: "row" }, h("button", { type: "button", class: "small", onclick: () => clear(formSlot, form(null)) }, "Add relationship")),
    formSlot);
}

/** A problem of the rule being edited at `path` (relative to the rule), if any. */
function problemAt(problems, path) {
  return problems.find((p) => p.path === path || p.path.startsWith(`${path} `) || p.path.startsWith(`${path}.`));
}

function marked(el, problem) {
  if (problem) el.classList.add("invalid");
  return [el, problem ? h("div", { class: "field-error" }, problem.message) : null];
}

/** The root rule's _id: inherited or wrapped key, ObjectId, a unique set of columns, or an expression. */
export function idEditor(node, problems, redraw) {
  const custom = typeof node.id === "object" && node.id !== null ? node.id : null;
  const mode = custom ? (custom.expression !== undefined ? "expression" : "columns") : node.id || "inherit";
  const pick = h("select", { name: "id" }, options([
    ["inherit", "Inherit the primary key"], ["wrap", "Wrap the primary key in a sub-document"], ["objectid", "New ObjectId"],
    ["columns", "From unique columns"], ["expression", "From an expression"],
  ], mode));
  pick.addEventListener("change", () => {
    const v = pick.value;
    node.id = v === "columns" ? { columns: [] } : v === "expression" ? { expression: "" } : v;
    redraw();
  });
  const parts = [h("label", {}, "_id", ...marked(pick, problemAt(problems, ".id")))];
  if (mode === "columns") {
    const cols = h("input", { name: "id-columns", value: custom.columns.join(", "), placeholder: "e.g. email" });
    cols.addEventListener("change", () => { node.id = { ...node.id, columns: list(cols.value) }; });
    parts.push(h("label", {}, "_id columns", ...marked(cols, problemAt(problems, ".id.columns"))));
  } else if (mode === "expression") {
    const expr = h("input", { name: "id-expression", class: "code", value: custom.expression, placeholder: 'e.g. columns["country"] + "-" + columns["code"]' });
    expr.addEventListener("change", () => { node.id = { ...node.id, expression: expr.value }; });
    parts.push(h("label", {}, "_id expression", ...marked(expr, problemAt(problems, ".id.expression"))));
  }
  return parts;
}

/** A rule's filter and calculated fields; `prefix` is the rule's path inside its collection. */
export function expressionEditor(node, problems, prefix, redraw) {
  const filter = h("input", { name: "rule-filter", class: "code", value: node.filter || "", placeholder: 'keep rows where this is true, e.g. columns["status"] !== "archived"' });
  filter.addEventListener("change", () => { if (filter.value.trim()) node.filter = filter.value; else delete node.filter; });
  const rows = (node.calculated || []).map((calc, i) => {
    const at = `${prefix}.calculated[${i}]`;
    const problem = problemAt(problems, at);
    const set = (key, value) => { if (value === "" || (key === "nulls" && value === "null")) delete calc[key]; else calc[key] = value; };
    return h("tr", { class: problem ? "invalid" : null, "data-calculated": String(i) },
      h("td", {}, h("input", { name: `calc-name-${i}`, value: calc.name, placeholder: "field.path", onchange: (e) => set("name", e.target.value.trim()) })),
      h("td", {}, h("input", { name: `calc-expression-${i}`, class: "code", value: calc.expression, placeholder: 'columns["a"] + " " + columns["b"]', onchange: (e) => set("expression", e.target.value) }),
        problem ? h("div", { class: "field-error" }, problem.message) : null),
      h("td", {}, h("select", { onchange: (e) => set("type", e.target.value) }, options([["", "from the value"], ...BSON_TYPES.map((t) => [t, t])], calc.type || ""))),
      h("td", {}, h("select", { onchange: (e) => set("nulls", e.target.value) }, options([["null", "insert null"], ["omit", "omit"]], calc.nulls || "null"))),
      h("td", {}, h("button", { type: "button", class: "small", onclick: () => { node.calculated.splice(i, 1); redraw(); } }, "Remove")));
  });
  const filterRow = h("label", {}, "Filter (JavaScript; true keeps the row)", ...marked(filter, problemAt(problems, `${prefix}.filter`)));
  if (node.primitive) return h("div", { class: "stack", style: "margin-top:14px", "data-slot": "expressions" }, filterRow);
  return h("div", { class: "stack", style: "margin-top:14px", "data-slot": "expressions" },
    filterRow,
    h("table", { class: "fields" },
      h("thead", {}, h("tr", {}, ["Calculated field", "Expression", "BSON type", "Nulls", ""].map((t) => h("th", {}, t)))),
      h("tbody", {}, rows)),
    h("div", { class: "row" }, h("button", { type: "button", class: "small", onclick: () => {
      node.calculated = [...(node.calculated || []), { name: "", expression: "" }];
      redraw();
    } }, "Add calculated field")));
}
