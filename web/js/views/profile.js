// The profile: names, bio and username, the avatar (uploaded straight to storage with
// progress), logging out of this device or of every device.

import { api, upload } from "../api.js";
import { h, replace, field, formError } from "../dom.js";
import { submitting } from "../errors.js";
import { session, logout } from "../session.js";
import * as ws from "../ws.js";
import { go } from "../app.js";
import { avatar } from "./chats.js";

export function profileView(main) {
  const me = session.me;
  const picture = h("div", { class: "profile-avatar", testid: "profile-avatar" }, avatar(me.avatar_url, me.username));
  const progress = h("progress", { max: 1, value: 0, hidden: true, testid: "avatar-progress" });
  const avatarForm = h("form", { class: "card", testid: "avatar-form", novalidate: true },
    h("h2", {}, "Picture"), picture,
    field("New picture (JPEG, PNG, WebP or GIF, up to 5 MB)", { name: "avatar", type: "file", accept: "image/png,image/jpeg,image/webp,image/gif", testid: "avatar-input" }),
    progress, formError(),
    h("div", { class: "row" },
      h("button", { type: "submit", class: "primary", testid: "avatar-save" }, "Upload"),
      h("button", { type: "button", testid: "avatar-remove", onclick: () => submitting(avatarForm, async () => save({ avatar_upload_id: null })) }, "Remove picture")));
  const save = async (body) => {
    session.me = await api("PATCH", "/me", body);
    replace(picture, avatar(session.me.avatar_url, session.me.username));
  };
  avatarForm.addEventListener("submit", (e) => {
    e.preventDefault();
    const file = avatarForm.elements.avatar.files[0];
    if (!file) return;
    submitting(avatarForm, async () => {
      progress.hidden = false;
      const id = await upload("avatar", file, (p) => { progress.value = p; });
      await save({ avatar_upload_id: id });
      avatarForm.elements.avatar.value = "";
      progress.hidden = true;
    });
  });

  const form = h("form", { class: "card", testid: "profile-form", novalidate: true },
    h("h2", {}, "About you"),
    h("p", { class: "muted" }, me.email),
    field("Username", { name: "username", value: me.username, autocomplete: "username" }),
    field("First name", { name: "first_name", value: me.first_name || "", maxlength: 50 }),
    field("Last name", { name: "last_name", value: me.last_name || "", maxlength: 50 }),
    field("Bio", { name: "bio", type: "textarea", value: me.bio || "", maxlength: 500 }),
    field("Who can add you to groups", { name: "group_adds", type: "select", testid: "group-adds",
      options: [["everyone", "Everyone"], ["nobody", "Only by invitation (you accept or decline)"]] }),
    formError(),
    h("button", { type: "submit", class: "primary", testid: "profile-save" }, "Save"),
    h("p", { role: "status", class: "muted", testid: "profile-status" }));
  form.elements.group_adds.value = me.group_adds || "everyone";
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    submitting(form, async () => {
      await save(Object.fromEntries(new FormData(form).entries()));
      form.querySelector('[data-testid="profile-status"]').textContent = "Saved.";
    });
  });

  const out = async (all) => {
    if (all) { try { await api("POST", "/auth/logout-all", undefined, { retryWhenDown: false }); } catch { /* logged out below anyway */ } }
    ws.disconnect();
    await logout();
    go("/login");
  };
  main.append(h("div", { class: "bar" }, h("h1", {}, `@${me.username}`)), avatarForm, form,
    h("section", { class: "card row" },
      h("button", { type: "button", testid: "logout", onclick: () => out(false) }, "Log out"),
      h("button", { type: "button", class: "danger", testid: "logout-all", onclick: () => out(true) }, "Log out everywhere")));
}
