// Replies in a room: the quote a message carries of the one it answers (frozen by the server
// when it was sent: sender and the first 100 characters, or "deleted" once that message is gone),
// and the bar above the composer that says what the next message will answer.

import { h, replace } from "../dom.js";

/** The quote on a message that answers another; clicking it scrolls to the original if shown. */
export function quote(reply, jump) {
  const el = h("blockquote", { class: "quote", testid: "message-quote", "data-reply-to": reply.message_id, tabindex: "0", title: "Show the message this answers" });
  if (reply.deleted) showDeleted(el);
  else el.append(h("strong", {}, reply.sender || "?"), " ", h("span", { testid: "quote-text" }, reply.text || ""));
  el.addEventListener("click", () => jump(reply.message_id));
  el.addEventListener("keydown", (e) => { if (e.key === "Enter") jump(reply.message_id); });
  return el;
}

/** A quote of a message deleted while the room is open says so at once, as history will. */
export function showDeleted(el) {
  el.dataset.deleted = "true";
  replace(el, h("em", { class: "muted" }, "Deleted message"));
}

/** The "Replying to …" bar: `set(message)` shows it, `clear()` hides it, `target()` is the id. */
export function replyBar() {
  let target = null;
  const label = h("span", { testid: "reply-bar-text" });
  const el = h("div", { class: "reply-bar", testid: "reply-bar", hidden: true },
    label,
    h("button", { type: "button", class: "link", testid: "reply-cancel", "aria-label": "Cancel the reply", onclick: () => clear() }, "✕"));
  function set(message) {
    target = message.id;
    const preview = (message.text || (message.files?.length ? "a file" : "")).slice(0, 100);
    replace(label, "Replying to ", h("strong", {}, message.sender), `: ${preview}`);
    el.hidden = false;
  }
  function clear() {
    target = null;
    el.hidden = true;
  }
  return { el, set, clear, target: () => target };
}
