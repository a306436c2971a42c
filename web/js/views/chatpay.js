// Money in a chat: the socket's `transfer` action. Each attempt has its own Idempotency-Key; a
// retry of that attempt (no answer yet, the socket dropped) sends the very same key, so the
// money moves at most once however often it is clicked. The answer is the `message` event of
// kind `transfer` carrying our client_id, `transfer_sent` with it when the money moved but the
// message could not be posted, or an `error` event with it.

import { on } from "../events.js";
import * as ws from "../ws.js";
import { h, field, formError, money, parseAmount, uid } from "../dom.js";
import { countdown, describe, clearErrors } from "../errors.js";

export function transferForm(room, me, close) {
  const others = room.members.map((m) => m.user.username).filter((u) => u !== me);
  const toField = room.kind === "direct"
    ? null
    : field("To", { name: "to", type: "select", testid: "transfer-to", options: others.map((u) => [u, `@${u}`]) });
  const status = h("p", { class: "muted", role: "status", testid: "transfer-status" });
  const submit = h("button", { type: "submit", class: "primary", testid: "transfer-submit" }, "Send money");
  const form = h("form", { class: "card pay", testid: "transfer-form", novalidate: true },
    h("h2", {}, room.kind === "direct" ? `Send money to ${others[0] || ""}` : "Send money"),
    toField,
    field("Amount", { name: "amount", inputmode: "decimal", placeholder: "5.00", testid: "transfer-amount", required: true, autocomplete: "off" }),
    field("What for (optional)", { name: "description", maxlength: 255, testid: "transfer-description" }),
    formError(),
    h("div", { class: "row" }, submit, h("button", { type: "button", onclick: close }, "Cancel")),
    status);

  let attempt = null; // {key, client_id, frame, fingerprint}
  let timer = null;
  const finish = () => { clearTimeout(timer); attempt = null; submit.disabled = false; };

  const offs = [
    on("ws:message", ({ message }) => {
      if (!attempt || message.client_id !== attempt.client_id) return;
      const t = message.transfer;
      status.textContent = t ? `Sent ${money(t.amount, t.currency)} to ${t.to}.` : "Sent.";
      status.dataset.done = "true";
      form.reset();
      finish();
    }),
    // Paid, but the chat could not show it (we left the room, or it is gone): the payment stands.
    on("ws:transfer_sent", (e) => {
      if (!attempt || e.client_id !== attempt.client_id) return;
      const t = e.transfer;
      status.textContent = t ? `Sent ${money(t.amount, t.currency)} to ${t.to} (not shown in this chat).` : "Sent.";
      status.dataset.done = "true";
      form.reset();
      finish();
    }),
    on("ws:error", (e) => {
      if (!attempt || e.client_id !== attempt.client_id) return;
      status.textContent = "";
      const line = form.querySelector('[data-error-for=""]');
      line.textContent = describe({ message: WORDS[e.code] || e.message || e.code });
      if (e.retry_after) countdown(line, line.textContent, e.retry_after, submit);
      finish();
      if (e.retry_after) submit.disabled = true;
    }),
    on("ws:reconnected", () => { if (attempt) send(); }), // the same key: never twice
  ];

  function send() {
    if (!ws.send(attempt.frame)) {
      status.textContent = "Not connected. Retrying when the connection is back…";
      return;
    }
    status.textContent = "Sending…";
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (!attempt) return;
      status.textContent = "No answer yet. ";
      status.append(h("button", { type: "button", class: "link", testid: "transfer-retry", onclick: send }, "Try again (it will not pay twice)"));
    }, 8000);
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (attempt) return; // an attempt is running: a double click sends nothing more
    clearErrors(form);
    const values = Object.fromEntries(new FormData(form).entries());
    const amount = parseAmount(values.amount);
    if (!amount) {
      form.querySelector('[data-error-for="amount"]').textContent = "Enter an amount like 5 or 5.25.";
      return;
    }
    const clientId = uid();
    const frame = { action: "transfer", room_id: room.id, amount, idempotency_key: uid(), client_id: clientId };
    if (values.to) frame.to = values.to;
    if (values.description) frame.description = values.description;
    attempt = { client_id: clientId, frame };
    submit.disabled = true;
    send();
  });
  // Listeners go when the form leaves the page.
  const watch = new MutationObserver(() => {
    if (!form.isConnected) { offs.forEach((off) => off()); watch.disconnect(); clearTimeout(timer); }
  });
  queueMicrotask(() => form.parentNode && watch.observe(document.body, { childList: true, subtree: true }));
  setTimeout(() => form.querySelector('[name="amount"]')?.focus());
  return form;
}

const WORDS = {
  insufficient_funds: "Not enough money in your wallet.",
  self_transfer: "You cannot send money to yourself.",
  blocked: "You cannot send money here: one of you blocked the other.",
  rate_limited: "Slow down a little.",
  validation_failed: "Check the amount and the recipient.",
  idempotency_key_reused: "This attempt was already used for a different payment.",
  not_found: "This chat or person was not found.",
  unknown_action: "Money in chat is not available on this server yet.",
};
