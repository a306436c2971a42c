// The room's pinned messages: a bar under the room's name with the newest pin (clicking it jumps
// to that message and moves on to the next pin), loaded from GET /rooms/{id}/pins and again on
// every `pinned` / `unpinned` event, and the Pin / Unpin links of those who may pin.

import { api } from "../api.js";
import { h, replace } from "../dom.js";

export function pinsBar(roomId, jump) {
  let items = [];
  let at = 0;
  const text = h("span", { class: "pin-text", testid: "pinned-text" });
  const count = h("small", { class: "muted", testid: "pinned-count" });
  const el = h("button", { type: "button", class: "pinned-bar", testid: "pinned-bar", hidden: true, "aria-label": "Pinned messages: show the next", onclick: () => next() },
    h("span", { "aria-hidden": "true" }, "📌 "), text, " ", count);
  const listeners = new Set();

  function draw() {
    el.hidden = !items.length;
    if (!items.length) return;
    at %= items.length;
    const m = items[at].message;
    const what = m.text || (m.files?.length ? "a file" : m.kind);
    replace(text, h("strong", {}, m.sender), `: ${what.slice(0, 80)}`);
    count.textContent = items.length > 1 ? `${at + 1} of ${items.length}` : "";
    el.dataset.messageId = m.id;
  }

  function next() {
    if (!items.length) return;
    jump(items[at].message.id);
    at += 1;
    draw();
  }

  async function load() {
    const page = await api("GET", `/rooms/${encodeURIComponent(roomId)}/pins`);
    items = page.items;
    at = 0;
    draw();
    listeners.forEach((f) => f());
  }

  return {
    el,
    load,
    has: (id) => items.some((p) => p.message.id === id),
    /** Called after every load: the Pin / Unpin links redraw from it. */
    onChange: (f) => listeners.add(f),
    async toggle(id) {
      const path = `/rooms/${encodeURIComponent(roomId)}/pins/${encodeURIComponent(id)}`;
      await api(items.some((p) => p.message.id === id) ? "DELETE" : "PUT", path);
      await load();
    },
    /** A message deleted while the room is open leaves the bar at once. */
    forget(id) {
      items = items.filter((p) => p.message.id !== id);
      draw();
      listeners.forEach((f) => f());
    },
  };
}
