// The chat list: most recently active first, with unread counts and last messages that move
// live with the socket's events, and a full reload after a reconnect (catching up).

import { api } from "../api.js";
import { on } from "../events.js";
import { h, replace, time, money, safeUrl } from "../dom.js";
import { describe } from "../errors.js";
import { session } from "../session.js";
import { go } from "../app.js";
import { invitationsCard } from "./invitations.js";

/** One line of preview for a message (text is only ever put into text nodes). */
export function preview(message) {
  if (!message) return "No messages yet";
  if (message.kind === "transfer" && message.transfer) {
    return `${message.sender} sent ${money(message.transfer.amount, message.transfer.currency)}`;
  }
  const files = (message.files || []).map((f) => f.filename).join(", ");
  return [message.text, files && `[file] ${files}`].filter(Boolean).join(" ");
}

export function chatsView(main) {
  let rooms = [];
  const list = h("ul", { class: "list", testid: "chat-list", "aria-label": "Chats" });
  const error = h("p", { class: "error", role: "alert", testid: "chats-error" });
  const invitations = invitationsCard();
  main.append(h("div", { class: "bar" },
    h("h1", {}, "Chats"),
    h("button", { type: "button", class: "primary", testid: "new-chat", onclick: () => go("#/new") }, "New chat")),
  invitations.card, error, list);
  invitations.load();

  const render = () => {
    replace(list, rooms.length ? rooms.map(item) : h("li", { class: "muted", testid: "no-chats" }, "No chats yet. Start one with “New chat”."));
    list.dataset.ready = "true";
  };
  const item = (room) => h("li", {},
    h("button", { type: "button", class: "chat", testid: "chat-item", "data-room-id": room.id, onclick: () => go(`#/room/${encodeURIComponent(room.id)}`) },
      avatar(room.avatar_url, room.name),
      h("span", { class: "chat-main" },
        h("span", { class: "chat-name", testid: "chat-name" }, room.name || "(no name)"),
        h("span", { class: "chat-last", testid: "chat-last" }, preview(room.last_message))),
      h("span", { class: "chat-side" },
        h("small", { class: "muted" }, time(room.updated_at)),
        room.unread_count > 0 ? h("span", { class: "badge", testid: "unread-count", "aria-label": `${room.unread_count} unread` }, String(room.unread_count)) : null)));

  let loading = null;
  const load = () => {
    loading ??= api("GET", "/rooms?limit=100")
      .then((page) => {
        rooms = page.items || [];
        error.textContent = "";
        render();
        if (!performance.getEntriesByName("chat-list-ready").length) performance.mark("chat-list-ready");
      })
      .catch((err) => { error.textContent = describe(err); })
      .finally(() => { loading = null; });
    return loading;
  };
  load();

  const offs = [
    on("ws:message", ({ room_id, message }) => {
      const room = rooms.find((r) => r.id === room_id);
      if (!room) return load();
      // A reload may already count this message (ids sort by time): count each one once.
      if (room.last_message && room.last_message.id >= message.id) return undefined;
      room.last_message = message;
      room.updated_at = message.created_at;
      if (message.sender !== session.me?.username) room.unread_count = (room.unread_count || 0) + 1;
      rooms = [room, ...rooms.filter((r) => r !== room)];
      render();
      return undefined;
    }),
    on("ws:deleted", load),
    // `invited` changes only the invitations; the other room events change the list.
    on("ws:room", ({ event }) => (event === "invited" ? invitations.load() : load())),
    on("ws:read", ({ username }) => { if (username === session.me?.username) load(); }),
    on("ws:reconnected", () => { invitations.load(); return load(); }),
  ];
  return () => offs.forEach((off) => off());
}

/** A round avatar: the image when there is one, else the name's first letter. */
export function avatar(url, name, testid) {
  if (safeUrl(url)) return h("img", { class: "avatar", src: safeUrl(url), alt: "", testid });
  return h("span", { class: "avatar", "aria-hidden": "true", testid }, (name || "?").slice(0, 1).toUpperCase());
}
