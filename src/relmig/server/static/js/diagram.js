// The two models as SVG diagrams: tables with their foreign keys, and collections with their
// embedded arrays and sub-documents. Boxes are placed in columns (shortest column first), wide
// enough for their names; links run in the gaps between columns and above the boxes, never
// behind one. Every box is a button: Tab reaches it, Enter or Space opens it.

import { s } from "./dom.js";
import { linksOf } from "./modeling.js";

const ROW = 18;
const HEAD = 28;
const GAP = 24;

function clip(text, max) {
  return text.length > max ? `${text.slice(0, Math.max(1, max - 1))}…` : text;
}

// Approximate glyph widths (px) of the 12px name font and the 11px type font.
const NAME_PX = 6.8;
const TYPE_PX = 6.0;

/** A name and a type sharing `room` pixels: the name keeps what it can, the type the rest. */
function fit(name, type, room) {
  const typeWant = Math.min(type.length, 8) * TYPE_PX;
  const nameChars = Math.min(name.length, Math.floor((room - typeWant - 8) / NAME_PX));
  const typeChars = Math.floor((room - nameChars * NAME_PX - 8) / TYPE_PX);
  return [clip(name, nameChars), clip(type, typeChars)];
}

function layout(boxes, width, boxWidth) {
  const columns = Math.max(1, Math.floor((width - GAP) / (boxWidth + GAP)));
  const heights = new Array(columns).fill(GAP);
  for (const box of boxes) {
    const col = heights.indexOf(Math.min(...heights));
    box.col = col;
    box.x = GAP + col * (boxWidth + GAP);
    box.y = heights[col];
    box.w = boxWidth;
    heights[col] += box.h + GAP;
  }
  return { width: GAP + columns * (boxWidth + GAP), height: Math.max(...heights) };
}

/**
 * A foreign key's line from a child row to its parent, through the gaps only: out of the
 * child's side into the gap beside it; along the gap; to a neighbouring column directly, or to
 * a farther one through the band above all boxes; into the parent's side. `lane` spreads lines
 * that share a gap.
 */
function route(child, parent, y1, y2, lane) {
  const off = 4 + (lane % 4) * 3;
  const top = 4 + (lane % 5) * 3;
  if (parent === child) {
    const x = child.x + child.w;
    return `M${x},${y1} H${x + GAP / 2 + off - 4} V${y2} H${x}`;
  }
  if (parent.col === child.col) {
    const x = child.x + child.w;
    const gx = x + off;
    return `M${x},${y1} H${gx} V${y2} H${parent.x + parent.w}`;
  }
  const right = parent.col > child.col;
  const x1 = right ? child.x + child.w : child.x;
  const g1 = right ? x1 + off : x1 - off;
  const x2 = right ? parent.x : parent.x + parent.w;
  const g2 = right ? x2 - off : x2 + off;
  if (Math.abs(parent.col - child.col) === 1) return `M${x1},${y1} H${g1} V${y2} H${x2}`;
  return `M${x1},${y1} H${g1} V${top} H${g2} V${y2} H${x2}`;
}

/** A box width that shows the longest name and type in full, within bounds. */
function boxWidth(labels, min, max) {
  const want = Math.max(...labels.map(([name, type]) => name.length * NAME_PX + Math.min(type.length, 16) * TYPE_PX + 52));
  return Math.round(Math.min(max, Math.max(min, want)));
}

/** The box's drawn rows (names clipped to fit, types): its header button names the box in full,
 * so they are hidden from assistive technology, which would read clipped names twice. */
const DRAWN = { "aria-hidden": "true" };

/** A box: its header is the button that selects it (what the pointer and the keyboard use), and
 * the button's name starts with what the header shows, then says the rest (WCAG 2.5.3). */
function frame(box, title, subtitle, cls, onSelect, label) {
  const [head, sub] = fit(title, subtitle, box.w - 18);
  const keys = (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); onSelect(); } };
  const button = s("g", {
    class: "handle", tabindex: 0, role: "button", "data-focus": `box:${box.key}`, onkeydown: keys,
    "aria-label": `${head} ${sub}: ${label}`, "aria-pressed": cls.includes("selected") ? "true" : "false",
  },
    s("rect", { class: "head", x: 0.5, y: 0.5, width: box.w - 1, height: HEAD - 1, rx: 5 }),
    // The full name on hover, over the (maybe clipped) name.
    s("text", { class: "title", x: 10, y: 18 }, s("title", {}, box.tooltip || title), head),
    // The leading space (not drawn: SVG collapses it) keeps the two words apart in the text
    // that accessibility checks compare with the button's name.
    s("text", { class: "sub", x: box.w - 8, y: 18, "text-anchor": "end" }, ` ${sub}`));
  return s("g", { class: `box ${cls}`, transform: `translate(${box.x},${box.y})`, onclick: onSelect, "data-box": box.key },
    s("rect", { class: "frame", width: box.w, height: box.h, rx: 5 }), button);
}

/** Which tables any rule maps (as a collection or embedded somewhere). */
export function mappedTables(project) {
  const used = new Set();
  const walk = (rule) => { used.add(rule.table); (rule.embeds || []).forEach(walk); };
  project.collections.forEach(walk);
  return used;
}

/** Tables used by one collection's rules. */
export function tablesOf(rule) {
  const out = new Set([rule.table]);
  const walk = (r) => (r.embeds || []).forEach((e) => { out.add(e.table); walk(e); });
  walk(rule);
  return out;
}

export function relationalDiagram(project, selection, width, onSelect) {
  const mapped = mappedTables(project);
  const related = selection?.kind === "collection"
    ? tablesOf(project.collections.find((c) => c.name === selection.name) || { table: "" }) : new Set();
  const depth = (t) => linksOf(project, t).filter((fk) => fk.ref_table !== `${t.schema}.${t.name}`).length;
  const tables = [...project.tables].sort((a, b) => depth(a) - depth(b) || a.name.localeCompare(b.name));
  const boxes = tables.map((t) => ({ key: `${t.schema}.${t.name}`, table: t, h: HEAD + t.columns.length * ROW + 8 }));
  const w = boxWidth(tables.flatMap((t) => [[t.name, t.schema], ...t.columns.map((c) => [`   ${c.name}`, c.type])]), 168, 300);
  const size = layout(boxes, width, w);
  const byId = Object.fromEntries(boxes.map((b) => [b.key, b]));
  const svg = s("svg", { class: "diagram relational", width: size.width, height: size.height });

  const links = s("g", { class: "links" });
  let lane = 0;
  for (const box of boxes) {
    for (const fk of linksOf(project, box.table)) {
      const parent = byId[fk.ref_table];
      if (!parent) continue;
      const row = Math.max(0, box.table.columns.findIndex((c) => c.name === fk.columns[0]));
      const y1 = box.y + HEAD + row * ROW + ROW / 2 + 4;
      const y2 = parent.y + HEAD / 2;
      const hot = selection?.kind === "table" && (selection.id === box.key || selection.id === parent.key);
      const cls = `link${hot ? " hot" : ""}${fk.synthetic ? " synthetic" : ""}`;
      const what = fk.synthetic ? "synthetic relationship " : "";
      links.append(s("path", { class: cls, d: route(box, parent, y1, y2, lane++), "data-link": fk.name },
        s("title", {}, `${what}${fk.name}: ${box.key} → ${fk.ref_table}`)));
    }
  }
  for (const box of boxes) {
    const t = box.table;
    const cls = ["table", mapped.has(box.key) ? "" : "unmapped",
      selection?.kind === "table" && selection.id === box.key ? "selected" : "",
      related.has(box.key) ? "related" : ""].join(" ");
    box.tooltip = `${box.key}${t.estimated_rows !== null && t.estimated_rows !== undefined ? `, ~${t.estimated_rows} rows` : ""}${mapped.has(box.key) ? "" : " (not mapped)"}`;
    const g = frame(box, t.name, t.schema, cls, () => onSelect({ kind: "table", id: box.key }),
      `Table ${box.key}, ${t.columns.length} columns${mapped.has(box.key) ? "" : ", not mapped"}`);
    const fkColumns = new Set(linksOf(project, t).flatMap((fk) => fk.columns));
    t.columns.forEach((c, i) => {
      const y = HEAD + i * ROW + 16;
      const marker = t.primary_key.includes(c.name) ? ["pk", "PK"] : fkColumns.has(c.name) ? ["fk", "FK"] : null;
      const [name, type] = fit(c.name, c.type, box.w - 38);
      if (marker) g.append(s("text", { class: marker[0], x: 8, y, ...DRAWN }, marker[1]));
      g.append(s("text", { x: 30, y, ...DRAWN }, s("title", {}, `${c.name} ${c.type}${c.nullable ? "" : " not null"}`), name));
      g.append(s("text", { class: "type", x: box.w - 8, y, "text-anchor": "end", ...DRAWN }, type));
    });
    svg.append(g);
  }
  svg.append(links); // above the boxes; routed through the gaps, so no line crosses one
  return svg;
}

/** The lines a collection's box shows: fields, then embedded rules nested under their field. */
function documentLines(project, rule, bsonTypes) {
  const tables = Object.fromEntries(project.tables.map((t) => [`${t.schema}.${t.name}`, t]));
  const lines = [];
  const groups = [];
  const fields = (table, rules, depth, skip) => {
    for (const c of table.columns) {
      const r = rules[c.name] || {};
      if (r.include === false || skip.has(c.name)) continue;
      const bson = r.type || bsonTypes?.[`${table.schema}.${table.name}`]?.[c.name] || c.type;
      lines.push({ depth, name: r.name || c.name, type: bson, sql: c.type });
    }
  };
  // `root`: the collection's own table, which gives the `_id`; a merged parent at the same
  // depth only adds fields.
  const node = (rule, depth, root) => {
    const table = tables[rule.table];
    if (!table) return;
    if (root) {
      const pk = table.primary_key;
      const id = rule.id || "inherit";
      const custom = typeof id === "object";
      if (id === "objectid") lines.push({ depth, name: "_id", type: "objectId", kind: "id" });
      else if (custom && id.expression !== undefined) lines.push({ depth, name: "_id", type: "ƒ(columns)", kind: "id" });
      else if (custom) lines.push({ depth, name: "_id", type: `← ${id.columns.join(", ")}`, kind: "id" });
      else if (id === "inherit" && pk.length === 1) lines.push({ depth, name: "_id", type: `← ${pk[0]}`, kind: "id" });
      else lines.push({ depth, name: "_id", type: `{ ${pk.join(", ")} }`, kind: "id" });
      fields(table, rule.fields || {}, depth, id === "objectid" || custom ? new Set() : new Set(pk));
    } else {
      fields(table, rule.fields || {}, depth, new Set());
    }
    for (const calc of rule.calculated || []) lines.push({ depth, name: calc.name, type: calc.type || "ƒ(columns)", kind: "calc" });
    if (rule.filter) lines.push({ depth, name: "filter", type: rule.filter, kind: "filter" });
    for (const embed of rule.embeds || []) {
      const kind = embed.kind === "array" ? "array" : "doc";
      if (embed.kind === "document" && embed.merge) {
        lines.push({ depth, name: `⤷ ${embed.table.split(".").pop()}`, type: "merged", kind });
        node(embed, depth, false);
        continue;
      }
      const start = lines.length;
      const shape = embed.kind === "array" ? (embed.primitive ? `[ ${embed.primitive} ]` : "[ ]") : "{ }";
      lines.push({ depth, name: embed.field, type: shape, kind });
      if (!embed.primitive) node(embed, depth + 1, false);
      groups.push({ start, end: lines.length, depth, kind });
    }
  };
  node(rule, 0, true);
  return { lines, groups };
}

export function documentDiagram(project, selection, width, onSelect, bsonTypes) {
  const boxes = project.collections.map((rule) => {
    const shape = documentLines(project, rule, bsonTypes);
    return { key: rule.name, rule, shape, h: HEAD + shape.lines.length * ROW + 8 };
  });
  const w = boxWidth(boxes.flatMap((b) => [[b.key, b.rule.table], ...b.shape.lines.map((l) => [`${"  ".repeat(l.depth)}   ${l.name}`, String(l.type)])]), 180, 320);
  const size = layout(boxes, width, w);
  const svg = s("svg", { class: "diagram documents", width: size.width, height: Math.max(size.height, 60) });
  if (!boxes.length) {
    svg.append(s("text", { class: "sub", x: GAP, y: 36 }, "No collections yet: select a table and add a New documents rule."));
    return svg;
  }
  const related = selection?.kind === "table" ? selection.id : null;
  for (const box of boxes) {
    const cls = ["collection",
      selection?.kind === "collection" && selection.name === box.key ? "selected" : "",
      related && tablesOf(box.rule).has(related) ? "related" : ""].join(" ");
    box.tooltip = `collection ${box.key} ← ${box.rule.table}`;
    const g = frame(box, box.key, `← ${box.rule.table.split(".").pop()}`, cls,
      () => onSelect({ kind: "collection", name: box.key }), `Collection ${box.key} from ${box.rule.table}`);
    for (const grp of box.shape.groups) {
      const x = 6 + grp.depth * 10;
      g.append(s("rect", {
        class: `nest ${grp.kind}`, x, y: HEAD + grp.start * ROW + 2, width: box.w - x - 6,
        height: (grp.end - grp.start) * ROW, rx: 4,
      }));
    }
    box.shape.lines.forEach((line, i) => {
      const y = HEAD + i * ROW + 16;
      const x = 12 + line.depth * 10;
      const cls = { array: "array", doc: "doc", calc: "calc", filter: "filter" }[line.kind] || "";
      const [name, type] = fit(line.name, String(line.type), box.w - x - 10);
      g.append(s("text", { class: cls, x, y, ...DRAWN }, s("title", {}, `${line.name}: ${line.type}${line.sql ? ` (from ${line.sql})` : ""}`), name));
      g.append(s("text", { class: "type", x: box.w - 10, y, "text-anchor": "end", ...DRAWN }, type));
    });
    svg.append(g);
  }
  return svg;
}
