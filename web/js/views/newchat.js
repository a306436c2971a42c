// Starting a chat: a direct room with someone found by username search, or a group or channel
// with a name and first members.

import { api } from "../api.js";
import { h, replace, field, formError } from "../dom.js";
import { submitting, showError } from "../errors.js";
import { go } from "../app.js";
import { avatar } from "./chats.js";

export function newChatView(main) {
  const results = h("ul", { class: "list", testid: "user-results", "aria-label": "People" });
  const search = h("form", { class: "card", testid: "direct-form", role: "search", onsubmit: (e) => e.preventDefault() },
    h("h2", {}, "Message someone"),
    field("Search by username", { name: "q", type: "search", testid: "user-search", autocomplete: "off" }),
    formError(),
    results);
  const input = search.querySelector("input");
  let timer = null;
  let asked = 0;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const q = input.value.trim().replace(/^@/, "");
      const mine = ++asked;
      if (!q) return replace(results);
      try {
        const page = await api("GET", `/users?q=${encodeURIComponent(q)}&limit=10`);
        if (mine !== asked) return undefined;
        return replace(results, (page.items || []).length
          ? page.items.map((user) => h("li", {},
            h("button", { type: "button", class: "chat", testid: "user-result", "data-username": user.username, onclick: () => openDirect(user.username) },
              avatar(user.avatar_url, user.username),
              h("span", { class: "chat-main" },
                h("span", { class: "chat-name" }, `@${user.username}`),
                h("span", { class: "chat-last" }, [user.first_name, user.last_name].filter(Boolean).join(" "))))))
          : h("li", { class: "muted" }, "Nobody by that name."));
      } catch (err) {
        return showError(search, err);
      }
    }, 200);
  });
  const openDirect = (username) => submitting(search, async () => {
    const room = await api("POST", "/rooms", { kind: "direct", username });
    go(`#/room/${encodeURIComponent(room.id)}`);
  });

  const group = h("form", { class: "card", testid: "group-form", novalidate: true },
    h("h2", {}, "New group or channel"),
    field("Kind", { name: "kind", type: "select", options: [["group", "Group: everyone posts"], ["channel", "Channel: only admins post"]] }),
    field("Name", { name: "name", required: true, maxlength: 100 }),
    field("Description (optional)", { name: "description" }),
    field("Members (usernames, separated by commas)", { name: "members", autocomplete: "off" }),
    formError(),
    h("button", { type: "submit", class: "primary", testid: "create-group" }, "Create"));
  group.addEventListener("submit", (e) => {
    e.preventDefault();
    submitting(group, async () => {
      const v = Object.fromEntries(new FormData(group).entries());
      const members = v.members.split(/[\s,]+/).map((m) => m.replace(/^@/, "")).filter(Boolean);
      const body = { kind: v.kind, name: v.name, members };
      if (v.description) body.description = v.description;
      const room = await api("POST", "/rooms", body);
      go(`#/room/${encodeURIComponent(room.id)}`);
    });
  });
  main.append(h("div", { class: "bar" }, h("h1", {}, "New chat")), search, group);
  input.focus();
}
