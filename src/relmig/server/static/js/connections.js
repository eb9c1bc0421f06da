// Connections: add, test, edit, delete. Passwords go in once and are never shown back.

import { api } from "./api.js";
import { clear, confirmButton, copyButton, errorBox, h, options, setTitle, toast } from "./dom.js";

const DIALECTS = [["postgresql", "PostgreSQL"], ["mysql", "MySQL / MariaDB"]];
const DEFAULT_PORTS = { postgresql: 5432, mysql: 3306 };

/** What change data capture would lack here, and the SQL that fixes it, ready to copy: for the
 * tables as their own collections, and for each project on the connection with its mapping
 * (what its continuous jobs would be refused for). */
function cdcCheck(cdc) {
  if (!cdc) return null;
  if (cdc.error) return h("div", { class: "notice warn", "data-slot": "cdc-check" }, `CDC prerequisites could not be checked: ${cdc.error}`);
  const scope = cdc.projects.length
    ? `its tables and the mapping of ${cdc.projects.length === 1 ? "its project" : `its ${cdc.projects.length} projects`}`
    : "each table as its own collection; a project that embeds tables is checked when it is on this connection";
  if (cdc.ready) return h("span", { class: "badge ok", "data-slot": "cdc-check", style: "margin-left:6px", title: `Checked: ${scope}` }, "ready for CDC");
  const part = (title, check) => [
    h("strong", {}, title),
    check.error ? h("p", {}, `could not be checked: ${check.error}`) : null,
    h("ul", {}, check.missing.map((m) => h("li", {}, `${m.name}: ${m.problem}${m.note ? ` (${m.note})` : ""}`))),
    check.script ? h("div", { class: "row" }, h("span", {}, "Run this as a privileged user:"), copyButton(check.script)) : null,
    check.script ? h("pre", { class: "sql", "aria-label": `SQL that fixes the CDC prerequisites: ${title}` }, check.script) : null,
  ];
  return h("div", { class: "notice warn", "data-slot": "cdc-check" },
    cdc.missing.length ? part("Not ready for CDC (continuous and CDC-only jobs):", cdc) : null,
    ...cdc.projects.filter((p) => !p.ready).flatMap((p) =>
      part(`Not ready for CDC with the mapping of project ${p.project}:`, p)));
}

export async function renderConnections(view) {
  setTitle("Connections");
  const formSlot = h("div");
  const tableSlot = h("div", { class: "card flush" });
  clear(view,
    h("div", { class: "page-head" }, h("h1", {}, "Connections"), h("span", { class: "spacer" }),
      h("button", { class: "primary", onclick: () => openForm(null) }, "Add connection")),
    formSlot, tableSlot);

  async function refresh() {
    const rows = await api.get("/connections");
    if (!rows.length) {
      clear(tableSlot, h("div", { class: "empty" }, "No connections yet. Add the source database you want to migrate."));
      return;
    }
    clear(tableSlot, h("table", { class: "list" },
      h("thead", {}, h("tr", {}, ["Name", "Type", "Server", "Database", "User", "Password", "Projects", ""].map((t) => h("th", {}, t)))),
      h("tbody", {}, rows.map(row))));
  }

  function row(c) {
    const status = h("span", { class: "small" });
    return h("tr", { "data-connection": c.name },
      h("td", {}, h("strong", {}, c.name)),
      h("td", {}, DIALECTS.find(([d]) => d === c.dialect)?.[1] || c.dialect),
      h("td", { class: "mono" }, `${c.host}:${c.port || DEFAULT_PORTS[c.dialect]}`,
        h("span", { class: "muted small" }, ` TLS ${c.tls?.mode || "default"}`)),
      h("td", {}, c.database, c.schemas.length ? h("span", { class: "muted small" }, ` (${c.schemas.join(", ")})`) : null),
      h("td", {}, c.user),
      h("td", {}, c.password === "stored" ? "stored, encrypted" : c.password === "env" ? h("span", {}, "from ", h("code", {}, `$${c.password_env}`)) : "none"),
      h("td", {}, c.projects),
      h("td", { class: "actions-cell" }, status,
        h("button", { class: "small", onclick: () => test(`/connections/${c.id}/test`, undefined, status) }, "Test"),
        h("button", { class: "small", onclick: () => openForm(c) }, "Edit"),
        confirmButton("Delete", async () => {
          try { await api.del(`/connections/${c.id}`); toast(`Deleted ${c.name}`); refresh(); } catch (err) { toast(err.message, "error"); }
        })));
  }

  async function test(path, body, target) {
    clear(target, h("span", { class: "muted" }, "testing…"));
    try {
      const result = await api.post(path, body);
      clear(target, h("span", { class: `badge ${result.ok ? "ok" : "bad"}`, title: result.message }, result.ok ? "connected" : "failed"),
        result.ok ? null : h("div", { class: "field-error" }, result.message),
        cdcCheck(result.cdc));
      return result;
    } catch (err) {
      clear(target, errorBox(err));
      return null;
    }
  }

  function openForm(existing) {
    const f = {
      name: h("input", { name: "name", value: existing?.name || "", required: true }),
      dialect: h("select", { name: "dialect" }, options(DIALECTS, existing?.dialect || "postgresql")),
      host: h("input", { name: "host", value: existing?.host || "127.0.0.1" }),
      port: h("input", { name: "port", type: "number", min: 1, max: 65535, value: existing?.port ?? "", placeholder: "default" }),
      database: h("input", { name: "database", value: existing?.database || "" }),
      user: h("input", { name: "user", value: existing?.user || "" }),
      schemas: h("input", { name: "schemas", value: (existing?.schemas || []).join(", "), placeholder: "e.g. public (default: the user's)" }),
      mode: h("select", { name: "password_mode" }, options([
        ["stored", "Store it encrypted"], ["env", "Read an environment variable"], ["none", "No password"],
      ], existing?.password || "stored")),
      password: h("input", { name: "password", type: "password", autocomplete: "new-password",
        placeholder: existing?.password === "stored" ? "unchanged (type to replace)" : "" }),
      env: h("input", { name: "password_env", value: existing?.password_env || "", placeholder: "RELMIG_SOURCE_PASSWORD" }),
      // TLS in libpq's words for both databases; the same checks as a project file's source.tls.
      tlsMode: h("select", { name: "tls_mode" }, options([
        ["", "Driver default (TLS if offered, unchecked)"], ["disable", "disable"], ["require", "require"],
        ["verify-ca", "verify-ca"], ["verify-full", "verify-full"],
      ], existing?.tls?.mode || "")),
      caFile: h("input", { name: "tls_ca_file", value: existing?.tls?.ca_file || "", placeholder: "path on the server, for verify-*" }),
      certFile: h("input", { name: "tls_cert_file", value: existing?.tls?.cert_file || "", placeholder: "client certificate (optional)" }),
      keyFile: h("input", { name: "tls_key_file", value: existing?.tls?.key_file || "", placeholder: "its key" }),
    };
    const passwordLabel = h("label", {}, "Password", f.password);
    const envLabel = h("label", {}, "Environment variable", f.env);
    const syncMode = () => {
      passwordLabel.hidden = f.mode.value !== "stored";
      envLabel.hidden = f.mode.value !== "env";
    };
    f.mode.addEventListener("change", syncMode);
    syncMode();
    const result = h("div");

    const body = (forTest) => {
      const out = {
        name: f.name.value.trim(), dialect: f.dialect.value, host: f.host.value.trim(),
        port: f.port.value ? Number(f.port.value) : null, database: f.database.value.trim(),
        user: f.user.value.trim(), schemas: f.schemas.value.split(",").map((x) => x.trim()).filter(Boolean),
        tls: {},
      };
      const tls = { mode: f.tlsMode.value, ca_file: f.caFile.value.trim(), cert_file: f.certFile.value.trim(), key_file: f.keyFile.value.trim() };
      for (const [k, v] of Object.entries(tls)) if (v) out.tls[k] = v;
      if (f.mode.value === "env") out.password_env = f.env.value.trim();
      else if (f.mode.value === "none") { if (!forTest) out.password = null; }
      else if (f.password.value) out.password = f.password.value;
      else if (!existing && !forTest) out.password = null;
      return out;
    };

    const save = async (e) => {
      e.preventDefault();
      try {
        if (existing) await api.patch(`/connections/${existing.id}`, body(false));
        else await api.post("/connections", body(false));
        toast(`Saved ${f.name.value}`);
        clear(formSlot);
        refresh();
      } catch (err) {
        clear(result, errorBox(err));
      }
    };
    const testDraft = () => {
      // A saved connection with an unchanged password is tested with the stored one.
      const keepsStored = existing && f.mode.value === "stored" && !f.password.value;
      if (keepsStored) return test(`/connections/${existing.id}/test`, undefined, result);
      return test("/connections/test", body(true), result);
    };

    clear(formSlot, h("form", { class: "card", onsubmit: save },
      h("h2", {}, existing ? `Edit ${existing.name}` : "New connection"),
      h("div", { class: "form-grid" },
        h("label", {}, "Name", f.name), h("label", {}, "Type", f.dialect), h("label", {}, "Host", f.host),
        h("label", {}, "Port", f.port), h("label", {}, "Database", f.database), h("label", {}, "User", f.user),
        h("label", {}, "Schemas", f.schemas), h("label", {}, "Password", f.mode), passwordLabel, envLabel,
        h("label", {}, "TLS", f.tlsMode), h("label", {}, "CA file", f.caFile),
        h("label", {}, "Client certificate", f.certFile), h("label", {}, "Client key", f.keyFile)),
      h("p", { class: "muted small" }, "Passwords are encrypted with this machine's relmig key and never shown again."),
      result,
      h("div", { class: "actions" },
        h("button", { class: "primary", type: "submit" }, "Save"),
        h("button", { type: "button", onclick: testDraft }, "Test connection"),
        h("button", { type: "button", onclick: () => clear(formSlot) }, "Cancel"))));
    f.name.focus();
  }

  await refresh();
}
