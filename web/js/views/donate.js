// The public page of a donate link (`/donate/{id}`): who it pays, how much, until when; a
// logged-in visitor pays it (one Idempotency-Key per attempt), anyone else is offered to log in
// and comes back here afterwards.

import { api, signedIn } from "../api.js";
import { h, field, formError, money, parseAmount, uid, dateTime } from "../dom.js";
import { submitting, describe } from "../errors.js";
import { rememberPlace } from "../session.js";
import { go } from "../app.js";

export async function donateView(main, id) {
  const box = h("section", { class: "card", testid: "donate-page" }, h("p", { class: "muted" }, "Loading…"));
  main.append(box);
  let link;
  try {
    link = await api("GET", `/donate-links/${encodeURIComponent(id)}`, undefined, { auth: false });
  } catch (err) {
    box.replaceChildren(h("h1", {}, "Donate"), h("p", { class: "error", testid: "donate-error" }, describe(err)));
    return;
  }
  const who = link.receiver?.username || "?";
  box.replaceChildren(
    h("h1", {}, `Pay @${who}`),
    link.description ? h("p", { testid: "donate-description" }, link.description) : null,
    h("p", {}, link.amount ? `Amount: ${money(link.amount, link.currency)}` : "Any amount.", " ", h("small", { class: "muted" }, `Valid until ${dateTime(link.expires_at)}.`)));
  if (!link.active) {
    box.append(h("p", { class: "error", testid: "donate-error" }, "This link has expired or was revoked."));
    return;
  }
  if (!signedIn()) {
    box.append(h("button", { type: "button", class: "primary", testid: "donate-login", onclick: () => { rememberPlace(); go("/login"); } }, "Log in to pay"));
    return;
  }
  const form = h("form", { testid: "donate-pay-form", novalidate: true },
    link.amount ? null : field(`Amount (${link.currency})`, { name: "amount", inputmode: "decimal", required: true, autocomplete: "off", testid: "donate-amount" }),
    formError(),
    h("button", { type: "submit", class: "primary", testid: "donate-pay" }, link.amount ? `Pay ${money(link.amount, link.currency)}` : "Pay"),
    h("p", { role: "status", testid: "donate-status" }));
  let attempt = null;
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const body = {};
    if (!link.amount) {
      body.amount = parseAmount(form.elements.amount.value);
      if (!body.amount) { form.querySelector('[data-error-for="amount"]').textContent = "Enter an amount like 5 or 5.25."; return; }
    }
    const fingerprint = JSON.stringify(body);
    if (!attempt || attempt.fingerprint !== fingerprint) attempt = { key: uid(), fingerprint };
    const { key } = attempt;
    submitting(form, async () => {
      try {
        const done = await api("POST", `/donate-links/${encodeURIComponent(id)}/pay`, body, { idempotencyKey: key });
        form.replaceWith(h("p", { class: "notice", testid: "donate-paid" },
          `Paid ${money(done.transfer.amount, done.transfer.currency)} to @${who}. Your balance: ${money(done.balance, done.transfer.currency)}.`),
        h("a", { href: "/#/wallet" }, "Go to your wallet"));
      } catch (err) {
        if (err.status && err.code !== "request_in_progress") attempt = null;
        throw err;
      }
    });
  });
  box.append(form);
}
