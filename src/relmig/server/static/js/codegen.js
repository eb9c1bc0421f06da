// The Code Generation tab: SQL queries converted from the mapping (`relmig convert`), each
// checked on the target where the server has one.

import { api } from "./api.js";
import { clear, copyButton, count, errorBox, h, options, setTitle } from "./dom.js";
import { projectBar } from "./projects.js";

const LANGUAGES = [["shell", "mongosh"], ["python", "Python (pymongo)"]];

export async function renderCodegen(view, projectId) {
  const project = await api.get(`/projects/${projectId}`);
  setTitle("Code Generation", project.name);
  const sql = h("textarea", { id: "convert-sql", rows: 6, spellcheck: "false", placeholder: "SELECT … FROM …; one or more statements" });
  const lang = h("select", { id: "convert-lang" }, options(LANGUAGES, "shell"));
  const verify = h("input", { id: "convert-verify", type: "checkbox" });
  const out = h("div", { "data-slot": "conversions", "aria-live": "polite" });
  const run = async () => {
    clear(out, h("p", { class: "muted", role: "status" }, "converting…"));
    const body = { sql: sql.value, lang: lang.value, verify: verify.checked };
    try { show(await api.post(`/projects/${projectId}/convert`, body)); } catch (err) { clear(out, errorBox(err)); }
  };
  const show = (answers) => clear(out, answers.map((a, i) => h("div", { class: "card", "data-statement": i + 1 },
    h("h2", {}, `Statement ${i + 1}`, a.collection ? h("span", { class: "muted small" }, ` · ${a.collection}`) : null),
    h("pre", { class: "sql" }, a.sql),
    a.converted
      ? [h("div", { class: "row" }, h("span", { class: "spacer" }), copyButton(a.code, "Copy code")), h("pre", { class: "code", "data-slot": "code" }, a.code)]
      : h("div", { class: "finding error", role: "alert" }, h("span", { class: "badge bad" }, "refused"), " ", a.refused),
    a.check ? checked(a.check) : null,
    a.unchecked ? h("p", { class: "notice warn" }, `Not checked: ${a.unchecked}`) : null)));
  clear(view, projectBar(project, "codegen"),
    h("div", { class: "card" },
      h("h2", {}, "Convert SQL queries"),
      h("p", { class: "muted" }, "SQL over the source schema becomes MongoDB queries over the mapped collections, from the mapping; what cannot be converted exactly is refused with its place in the text."),
      h("label", { for: "convert-sql" }, "SQL"), sql,
      h("div", { class: "row" },
        h("label", { for: "convert-lang" }, "Output"), lang,
        verify, h("label", { for: "convert-verify" }, "Run both and compare on the target"),
        h("span", { class: "spacer" }),
        h("button", { class: "primary", onclick: run }, "Convert"))),
    out);
}

function checked(c) {
  if (c.equal) return h("p", { class: "notice ok", "data-check": "equal" }, `Equal: ${count(c.sql_rows)} rows from the source and from the target.`);
  return h("div", { class: "finding error", "data-check": "different" },
    h("span", { class: "badge bad" }, "different"), ` ${count(c.sql_rows)} rows from the source, ${count(c.mongo_rows)} from the target`,
    h("ul", {}, c.differences.map((d) => h("li", {}, d))));
}
