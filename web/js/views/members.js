// A group's or channel's people and roles: the owner changes roles (and can hand over
// ownership), owner and admins add people, remove plain members and edit the room; anyone but
// the owner can leave.

import { api, upload } from "../api.js";
import { h, field, formError } from "../dom.js";
import { submitting, showError } from "../errors.js";
import { go } from "../app.js";

export function membersPanel(room, me, onChange) {
  const myRole = room.members.find((m) => m.user.username === me)?.role;
  const isOwner = myRole === "owner";
  const isAdmin = isOwner || myRole === "admin";
  const panel = h("section", { class: "card", testid: "members-panel", "aria-label": "Members" });
  const error = formError("members-error");

  const rows = room.members.map((m) => {
    const name = m.user.username;
    const controls = [];
    if (isOwner && name !== me) {
      const select = h("select", { "aria-label": `Role of ${name}`, testid: "member-role", "data-username": name },
        ["member", "admin", "owner"].map((r) => h("option", { value: r, selected: r === m.role ? "" : null }, r)));
      select.addEventListener("change", () => act(() => api("PATCH", `/rooms/${room.id}/members/${encodeURIComponent(name)}`, { role: select.value })));
      controls.push(select);
    }
    const mayRemove = name !== me && m.role !== "owner" && (isOwner || (isAdmin && m.role === "member"));
    if (mayRemove) {
      controls.push(h("button", { type: "button", class: "link danger", testid: "remove-member", "data-username": name,
        onclick: () => act(async () => { await api("DELETE", `/rooms/${room.id}/members/${encodeURIComponent(name)}`); return api("GET", `/rooms/${room.id}`); }) }, "Remove"));
    }
    if (name === me && !isOwner) {
      controls.push(h("button", { type: "button", class: "link danger", testid: "leave-room",
        onclick: () => act(async () => { await api("DELETE", `/rooms/${room.id}/members/${encodeURIComponent(me)}`); go("#/chats"); return null; }) }, "Leave"));
    }
    return h("li", { class: "member", testid: "member", "data-username": name },
      h("span", {}, `@${name}`), " ", h("small", { class: "muted", testid: "member-role-label" }, isOwner && name !== me ? "" : m.role), ...controls);
  });

  async function act(work) {
    try {
      const updated = await work();
      if (updated) onChange(updated);
    } catch (err) {
      showError(panel, err);
    }
  }

  panel.append(h("h2", {}, `Members (${room.members.length})`), h("ul", { class: "list" }, rows), error);

  if (isAdmin) {
    const add = h("form", { class: "row", testid: "add-members", novalidate: true },
      field("Add people (usernames)", { name: "usernames", autocomplete: "off" }),
      h("button", { type: "submit" }, "Add"));
    add.addEventListener("submit", (e) => {
      e.preventDefault();
      submitting(panel, async () => {
        const usernames = add.elements.usernames.value.split(/[\s,]+/).map((u) => u.replace(/^@/, "")).filter(Boolean);
        onChange(await api("POST", `/rooms/${room.id}/members`, { usernames }));
      });
    });
    const edit = h("form", { testid: "room-settings", novalidate: true },
      h("h3", {}, "Room settings"),
      field("Name", { name: "name", value: room.name, maxlength: 100 }),
      field("Description", { name: "description", value: room.description || "" }),
      field("Who posts", { name: "posting", type: "select", options: [["everyone", "Everyone"], ["admins", "Only owner and admins"]] }),
      field("Room picture", { name: "avatar", type: "file", accept: "image/png,image/jpeg,image/webp,image/gif", testid: "room-avatar-input" }),
      formError(),
      h("button", { type: "submit" }, "Save"));
    edit.elements.posting.value = room.posting || "everyone";
    edit.addEventListener("submit", (e) => {
      e.preventDefault();
      submitting(edit, async () => {
        const body = { name: edit.elements.name.value, description: edit.elements.description.value, posting: edit.elements.posting.value };
        const file = edit.elements.avatar.files[0];
        if (file) body.avatar_upload_id = await upload("room_avatar", file);
        onChange(await api("PATCH", `/rooms/${room.id}`, body));
      });
    });
    panel.append(add, edit);
  }
  return panel;
}
