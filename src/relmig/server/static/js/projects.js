// Projects: create from a live connection, import/export the project file, rename, delete.

import { api } from "./api.js";
import { bytes, clear, confirmButton, copyButton, count, duration, errorBox, h, options, setTitle, toast, when } from "./dom.js";

const MAPPINGS = [["recommended", "Recommended"], ["one-to-one", "One-to-one"], ["empty", "Empty"]];
const CASINGS = [["keep", "Keep names"], ["camel", "camelCase"], ["pascal", "PascalCase"],
  ["snake", "snake_case"], ["lower", "lowercase"], ["upper", "UPPERCASE"]];

/** The header of every project page: its name and its tabs. */
export function projectBar(project, active) {
  const tab = (key, label) => h("a", { href: `#/projects/${project.id}/${key}`, class: active === key ? "active" : null, "aria-current": active === key ? "page" : null }, label);
  return h("div", { class: "project-bar" },
    h("h1", {}, project.name),
    h("nav", { class: "tabs", "aria-label": "Project" }, tab("mapping", "Mapping"), tab("analysis", "Analysis"), tab("migration", "Data Migration"), tab("codegen", "Code Generation")),
    h("span", { class: "spacer" }),
    h("span", { class: "muted small" }, `${project.dialect} · ${project.database}`),
    h("button", { class: "small", onclick: () => api.download(`/projects/${project.id}/export`, `${project.name}.yaml`) }, "Export"));
}

const SEVERITY = { error: "bad", warning: "warn", info: "" };

/** The pre-migration analysis: what will go wrong, measured on the source before any job. */
export async function renderAnalysis(view, projectId) {
  const project = await api.get(`/projects/${projectId}`);
  setTitle("Analysis", project.name);
  const out = h("div", { "data-slot": "analysis" });
  // The database a job would write: the server's target is checked in it (its name too).
  const database = h("input", { id: "analysis-target-db", placeholder: project.name, autocomplete: "off" });
  const run = async () => {
    clear(out, h("p", { class: "muted", role: "status" }, "measuring the source…"));
    const body = { target_db: database.value.trim() || null };
    try { show(await api.post(`/projects/${projectId}/analysis`, body)); } catch (err) { clear(out, errorBox(err)); }
  };
  const show = (a) => {
    const kinds = [...new Set(a.findings.map((f) => f.kind))];
    clear(out,
      h("div", { class: "card" }, h("h2", {}, "Collections"),
        h("p", { class: "muted" }, `Estimated snapshot time (source side): ${duration(a.snapshot_seconds)}. Measured in ${duration(a.seconds)}.`),
        h("table", { class: "list" }, h("thead", {}, h("tr", {}, ["Collection", "Rows", "Document p50", "p99", "max", "Snapshot"].map((t) => h("th", {}, t)))),
          h("tbody", {}, a.collections.map((c) => h("tr", { "data-collection": c.name }, h("td", {}, c.name), h("td", {}, count(c.rows)),
            h("td", {}, bytes(c.size_p50)), h("td", {}, bytes(c.size_p99)), h("td", {}, bytes(c.size_max)), h("td", {}, duration(c.estimated_seconds))))))),
      a.arrays.length ? h("div", { class: "card" }, h("h2", {}, "Embedded arrays"),
        h("table", { class: "list" }, h("thead", {}, h("tr", {}, ["Array", "Parents", "p99 per parent", "Max", "Limit"].map((t) => h("th", {}, t)))),
          h("tbody", {}, a.arrays.map((x) => h("tr", {}, h("td", {}, x.field), h("td", {}, count(x.parents)), h("td", {}, count(x.p99)),
            h("td", {}, count(x.max)), h("td", {}, count(x.limit))))))) : null,
      h("div", { class: "card" }, h("h2", {}, `Findings (${a.findings.length})`),
        a.findings.length ? kinds.map((kind) => h("section", { "data-kind": kind }, h("h3", {}, kind.replaceAll("_", " ")),
          a.findings.filter((f) => f.kind === kind).map((f) => h("div", { class: `finding ${f.severity}` },
            h("span", { class: `badge ${SEVERITY[f.severity]}` }, f.severity), " ", h("strong", {}, f.subject), ": ", f.message,
            f.fix ? h("div", { class: "row" }, h("code", {}, f.fix), copyButton(f.fix)) : null))))
          : h("p", { class: "muted" }, "Nothing to report.")));
  };
  clear(view, projectBar(project, "analysis"),
    h("div", { class: "card" }, h("div", { class: "row" },
      h("p", { style: "margin:0" }, "Keys, indexes, array and document sizes, values the target cannot store, renames and the snapshot time, measured on the source now."),
      h("span", { class: "spacer" }),
      h("label", { for: "analysis-target-db" }, "Target database"), database,
      h("button", { class: "primary", onclick: run }, "Run analysis"))),
    out);
}

export async function renderProjects(view) {
  setTitle("Projects");
  const formSlot = h("div");
  const tableSlot = h("div", { class: "card flush" });
  clear(view,
    h("div", { class: "page-head" }, h("h1", {}, "Projects"), h("span", { class: "spacer" }),
      h("button", { onclick: () => importForm() }, "Import project file"),
      h("button", { class: "primary", onclick: () => createForm() }, "New project")),
    formSlot, tableSlot);

  async function refresh() {
    const rows = await api.get("/projects");
    if (!rows.length) {
      clear(tableSlot, h("div", { class: "empty" }, "No projects yet. Create one from a connection, or import a project file."));
      return;
    }
    clear(tableSlot, h("table", { class: "list" },
      h("thead", {}, h("tr", {}, ["Name", "Source", "Tables", "Collections", "Updated", ""].map((t) => h("th", {}, t)))),
      h("tbody", {}, rows.map(row))));
  }

  function row(p) {
    const name = h("td", {}, h("a", { href: `#/projects/${p.id}/mapping` }, h("strong", {}, p.name)));
    const rename = () => {
      const input = h("input", { value: p.name, name: "rename" });
      const done = async (e) => {
        e.preventDefault();
        try { await api.patch(`/projects/${p.id}`, { name: input.value.trim() }); refresh(); } catch (err) { toast(err.message, "error"); }
      };
      clear(name, h("form", { class: "row", onsubmit: done }, input, h("button", { class: "small primary", type: "submit" }, "Save")));
      input.select();
    };
    return h("tr", { "data-project": p.name },
      name,
      h("td", {}, `${p.dialect} · ${p.database}`),
      h("td", {}, p.tables),
      h("td", {}, p.collections),
      h("td", { class: "muted" }, when(p.updated_at)),
      h("td", { class: "actions-cell" },
        h("a", { class: "button small", href: `#/projects/${p.id}/mapping` }, "Mapping"),
        h("a", { class: "button small", href: `#/projects/${p.id}/migration` }, "Data Migration"),
        h("button", { class: "small", onclick: () => api.download(`/projects/${p.id}/export`, `${p.name}.yaml`) }, "Export"),
        h("button", { class: "small", onclick: rename }, "Rename"),
        confirmButton("Delete", async () => {
          try { await api.del(`/projects/${p.id}`); toast(`Deleted ${p.name}`); refresh(); } catch (err) { toast(err.message, "error"); }
        })));
  }

  async function createForm() {
    const connections = await api.get("/connections");
    if (!connections.length) {
      clear(formSlot, h("div", { class: "notice warn" }, "Add a connection first: ", h("a", { href: "#/connections" }, "Connections"), "."));
      return;
    }
    const f = {
      name: h("input", { name: "name", required: true }),
      connection: h("select", { name: "connection" }, options(connections.map((c) => [c.id, c.name]))),
      schemas: h("input", { name: "schemas", placeholder: "default: the connection's" }),
      mapping: h("select", { name: "mapping" }, options(MAPPINGS, "recommended")),
      casing: h("select", { name: "casing" }, options(CASINGS, "keep")),
    };
    const pick = h("div", { class: "table-pick" }, h("span", { class: "muted" }, "Load the tables to choose which to migrate (default: all)."));
    const result = h("div");
    let tables = null;
    const schemas = () => f.schemas.value.split(",").map((x) => x.trim()).filter(Boolean);

    const load = async () => {
      clear(pick, h("span", { class: "muted" }, "reading the schema…"));
      try {
        const query = schemas().map((x) => `schema=${encodeURIComponent(x)}`).join("&");
        const found = await api.get(`/connections/${f.connection.value}/tables${query ? `?${query}` : ""}`);
        tables = found.map((t) => ({ ...t, box: h("input", { type: "checkbox", checked: true, value: t.id }) }));
        const all = h("input", { type: "checkbox", checked: true, onchange: () => tables.forEach((t) => { t.box.checked = all.checked; }) });
        clear(pick, found.length ? [
          h("label", { class: "inline" }, all, h("strong", {}, `All ${found.length} tables`)),
          tables.map((t) => h("label", { class: "inline" }, t.box, t.id,
            h("span", { class: "muted small" }, ` ${t.columns} columns, ~${count(t.estimated_rows)} rows`))),
        ] : h("span", { class: "muted" }, "No tables in these schemas."));
      } catch (err) {
        clear(pick, errorBox(err));
      }
    };
    const create = async (e) => {
      e.preventDefault();
      const chosen = tables ? tables.filter((t) => t.box.checked).map((t) => t.id) : null;
      clear(result, h("div", { class: "muted" }, "importing the schema…"));
      try {
        const project = await api.post("/projects", {
          name: f.name.value.trim(), connection_id: f.connection.value, schemas: schemas(),
          tables: chosen, mapping: f.mapping.value, casing: f.casing.value,
        });
        location.hash = `#/projects/${project.id}/mapping`;
      } catch (err) {
        clear(result, errorBox(err));
      }
    };
    clear(formSlot, h("form", { class: "card", onsubmit: create },
      h("h2", {}, "New project from a live database"),
      h("div", { class: "form-grid" },
        h("label", {}, "Project name", f.name), h("label", {}, "Connection", f.connection),
        h("label", {}, "Schemas", f.schemas),
        h("label", {}, "Initial mapping", f.mapping), h("label", {}, "Field casing", f.casing),
        h("div", { class: "stack" }, h("span", { class: "small muted" }, "Tables"),
          h("button", { type: "button", onclick: load }, "Load tables")),
        h("div", { class: "wide" }, pick)),
      result,
      h("div", { class: "actions" },
        h("button", { class: "primary", type: "submit" }, "Create project"),
        h("button", { type: "button", onclick: () => clear(formSlot) }, "Cancel"))));
    f.name.focus();
  }

  async function importForm() {
    const connections = await api.get("/connections");
    const file = h("input", { type: "file", name: "file", accept: ".yaml,.yml,application/yaml,text/yaml", required: true });
    const name = h("input", { name: "name", placeholder: "default: the name in the file" });
    const connection = h("select", { name: "connection" },
      options([["", "None: the password comes from the file's environment variable"], ...connections.map((c) => [c.id, c.name])], ""));
    const result = h("div");
    const submit = async (e) => {
      e.preventDefault();
      try {
        const project = await api.post("/projects/import", {
          yaml: await file.files[0].text(), name: name.value.trim() || null, connection_id: connection.value || null,
        });
        location.hash = `#/projects/${project.id}/mapping`;
      } catch (err) {
        clear(result, errorBox(err));
      }
    };
    clear(formSlot, h("form", { class: "card", onsubmit: submit },
      h("h2", {}, "Import a project file"),
      h("div", { class: "form-grid" },
        h("label", {}, "Project file (YAML)", file), h("label", {}, "Name", name), h("label", {}, "Read the source through", connection)),
      result,
      h("div", { class: "actions" },
        h("button", { class: "primary", type: "submit" }, "Import"),
        h("button", { type: "button", onclick: () => clear(formSlot) }, "Cancel"))));
  }

  await refresh();
}
