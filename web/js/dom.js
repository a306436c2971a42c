// Building the page. Every piece of text — messages, names, file names, errors — becomes a text
// node (textContent); this module never parses HTML, so data can never turn into markup.

/**
 * h("button", {class: "primary", testid: "send", onclick: fn}, "Send", child, ...)
 * Attributes: `testid` sets data-testid; `on<event>` functions become listeners; `value`,
 * `checked`, `disabled` are set as properties; anything else goes through setAttribute
 * (an attribute value is never markup). Children: strings/numbers (text nodes), nodes, arrays, null.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "testid") el.dataset.testid = value;
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "value" || key === "checked" || key === "disabled") el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

/** Replaces every child of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A labelled input: {label, name, type, ...attrs} → <label><span>label</span><input><small error></label>. */
export function field(label, attrs = {}) {
  const id = `f-${attrs.name}-${Math.random().toString(36).slice(2, 8)}`;
  const control = attrs.type === "textarea"
    ? h("textarea", { ...attrs, type: null, id })
    : attrs.type === "select"
      ? h("select", { ...attrs, type: null, options: null, id }, (attrs.options || []).map(([v, t]) => h("option", { value: v }, t)))
      : h("input", { type: "text", ...attrs, id });
  return h("div", { class: "field" },
    h("label", { for: id }, label),
    control,
    h("small", { class: "error", role: "alert", "data-error-for": attrs.name, testid: `error-${attrs.name}` }));
}

/** A form-level error line (for problems not about one field). */
export function formError(testid = "form-error") {
  return h("p", { class: "error", role: "alert", "data-error-for": "", testid });
}

/** Money: integer minor units → "12.50 USD" (no floats anywhere). */
export function money(minor, currency = "USD") {
  const sign = minor < 0 ? "-" : "";
  const abs = Math.abs(Math.trunc(minor));
  const cents = String(abs % 100).padStart(2, "0");
  return `${sign}${Math.floor(abs / 100)}.${cents} ${currency}`;
}

/** "12.5", "12,50", "7" → minor units as an integer, or null when it is not an amount. */
export function parseAmount(text) {
  const m = String(text).trim().match(/^(\d{1,10})(?:[.,](\d{1,2}))?$/);
  if (!m) return null;
  const minor = Number(m[1]) * 100 + Number((m[2] || "0").padEnd(2, "0"));
  return minor > 0 ? minor : null;
}

export function time(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "" : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export function dateTime(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "" : d.toLocaleString([], { dateStyle: "short", timeStyle: "short" });
}

export function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** Only http(s) and same-site URLs may become a link or an image source (never `javascript:`). */
export function safeUrl(url) {
  const text = String(url || "");
  return /^https?:\/\//i.test(text) || (text.startsWith("/") && !text.startsWith("//")) ? text : null;
}

/** A random id for client_id and Idempotency-Key values. */
export function uid() {
  return crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(36).slice(2)}`;
}
