// Small DOM helpers: build elements from data, format values, show messages.

const SVG_NS = "http://www.w3.org/2000/svg";
const PROPS = new Set(["value", "checked", "disabled", "selected", "hidden", "indeterminate"]);

function fill(el, attrs, children) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (PROPS.has(key)) el[key] = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    // Through the CSSOM: the Content-Security-Policy refuses style attributes, not this.
    else if (key === "style") el.style.cssText = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** An HTML element: h("button", {class: "primary", onclick}, "Save"). */
export function h(tag, attrs, ...children) {
  return fill(document.createElement(tag), attrs, children);
}

/** An SVG element, same calling convention as h(). */
export function s(tag, attrs, ...children) {
  return fill(document.createElementNS(SVG_NS, tag), attrs, children);
}

export function clear(el, ...children) {
  el.replaceChildren();
  return fill(el, {}, children);
}

export function badge(status) {
  return h("span", { class: `badge ${status || ""}` }, status || "—");
}

export function when(value) {
  if (!value) return "—";
  return new Date(value).toLocaleString(undefined, {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit",
  });
}

/** The time of day for today's timestamps, else the date and time. */
export function moment(value) {
  if (!value) return "—";
  const date = new Date(value);
  return date.toDateString() === new Date().toDateString() ? date.toLocaleTimeString() : when(value);
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "—";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  const hours = Math.floor(s / 3600);
  return hours < 48 ? `${hours}h ${Math.floor((s % 3600) / 60)}m` : `${Math.floor(hours / 24)}d ${hours % 24}h`;
}

export function count(n) {
  return n === null || n === undefined ? "—" : Number(n).toLocaleString();
}

export function bytes(n) {
  if (n === null || n === undefined) return "—";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = Number(n), i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(i ? 1 : 0)} ${units[i]}`;
}

export function toast(message, kind = "info") {
  const el = h("div", { class: `toast ${kind}`, role: "status" }, message);
  document.getElementById("toasts").append(el);
  setTimeout(() => el.remove(), kind === "error" ? 8000 : 3500);
}

/** A notice box for an API error, listing its problems (path: message) if it has any. */
export function errorBox(err) {
  const problems = err.problems || [];
  return h("div", { class: "notice error", role: "alert" },
    problems.length ? "Please fix:" : err.message,
    problems.length ? h("ul", {}, problems.map((p) =>
      h("li", {}, p.path ? h("span", { class: "path" }, `${p.path}: `) : null, p.message))) : null);
}

/** A delete button that asks for a second click instead of a modal dialog. */
export function confirmButton(label, action, cls = "danger small") {
  const button = h("button", { class: cls, type: "button" }, label);
  let armed = null;
  button.addEventListener("click", async () => {
    if (!armed) {
      button.textContent = "Click to confirm";
      button.classList.add("armed");
      armed = setTimeout(() => { armed = null; button.textContent = label; button.classList.remove("armed"); }, 4000);
      return;
    }
    clearTimeout(armed);
    armed = null;
    button.disabled = true;
    try { await action(); } finally { button.disabled = false; button.textContent = label; button.classList.remove("armed"); }
  });
  return button;
}

/** Options for a <select>: [[value, label], ...] with one selected. */
export function options(pairs, selected) {
  return pairs.map(([value, label]) => h("option", { value, selected: value === selected }, label));
}

/** The browser tab's title: the page, then what it is about, then relmig. */
export function setTitle(...parts) {
  document.title = [...parts.filter(Boolean), "relmig"].join(" · ");
}

/**
 * Ask before an action that cannot be undone, saying what will happen. Resolves true when
 * confirmed. A native modal <dialog>: focus moves into it, Escape cancels.
 */
export function confirmDialog({ title, body, confirm, danger = false }) {
  return new Promise((resolve) => {
    const dialog = h("dialog", { class: "confirm", "aria-labelledby": "confirm-title" },
      h("h2", { id: "confirm-title" }, title),
      (Array.isArray(body) ? body : [body]).map((p) => h("p", {}, p)),
      h("form", { method: "dialog", class: "actions" },
        h("button", { value: "yes", class: danger ? "danger solid" : "primary" }, confirm),
        h("button", { value: "no", autofocus: true }, "Keep the job as it is")));
    dialog.addEventListener("close", () => { resolve(dialog.returnValue === "yes"); dialog.remove(); });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** Rebuild `el`'s content with `build()` and give focus back to the control that had it. */
export function keepFocus(el, build) {
  const active = document.activeElement;
  const key = active && el.contains(active) ? active.dataset.focus : null;
  build();
  if (key) el.querySelector(`[data-focus="${CSS.escape(key)}"]`)?.focus();
}

/** A button that copies `text` to the clipboard and says so. */
export function copyButton(text, label = "Copy SQL") {
  return h("button", {
    type: "button", class: "small",
    onclick: async () => {
      try { await navigator.clipboard.writeText(text); toast("Copied to the clipboard"); } catch {
        toast("The browser did not allow copying: select the text and copy it", "error");
      }
    },
  }, label);
}
