// Invitations: rooms someone added the caller to while their profile says "Only by invitation"
// (or rooms they had left). Shown above the chat list with Join and Decline; the inviter is never
// told which was chosen.

import { api } from "../api.js";
import { h, replace, time } from "../dom.js";
import { describe } from "../errors.js";
import { go } from "../app.js";

/** The invitations card (hidden while there are none) and a function that reloads it. */
export function invitationsCard() {
  const list = h("ul", { class: "list", testid: "invitations", "aria-label": "Invitations" });
  const error = h("p", { class: "error", role: "alert", testid: "invitations-error" });
  const card = h("section", { class: "card", hidden: true, testid: "invitations-card" },
    h("h2", {}, "Invitations"), error, list);

  const act = async (invitation, choice, buttons) => {
    buttons.forEach((b) => { b.disabled = true; });
    try {
      const path = `/me/invitations/${encodeURIComponent(invitation.room_id)}/${choice}`;
      await api("POST", path);
      if (choice === "accept") return go(`#/room/${encodeURIComponent(invitation.room_id)}`);
      return load();
    } catch (err) {
      error.textContent = describe(err);
      buttons.forEach((b) => { b.disabled = false; });
      return undefined;
    }
  };
  const item = (invitation) => {
    const join = h("button", { type: "button", class: "primary", testid: "accept-invitation" }, "Join");
    const decline = h("button", { type: "button", testid: "decline-invitation" }, "Decline");
    join.addEventListener("click", () => act(invitation, "accept", [join, decline]));
    decline.addEventListener("click", () => act(invitation, "decline", [join, decline]));
    return h("li", { class: "row", testid: "invitation", "data-room-id": invitation.room_id },
      h("span", { class: "chat-main" },
        h("span", { class: "chat-name", testid: "invitation-name" }, invitation.name || "(no name)"),
        h("small", { class: "muted" }, `${invitation.kind} · invited by @${invitation.invited_by} · ${time(invitation.invited_at)}`)),
      join, decline);
  };

  const load = () => api("GET", "/me/invitations?limit=50")
    .then((page) => {
      const items = page.items || [];
      replace(list, items.map(item));
      card.hidden = items.length === 0;
      error.textContent = "";
      list.dataset.ready = "true";
    })
    .catch((err) => { card.hidden = false; error.textContent = describe(err); });
  return { card, load };
}
