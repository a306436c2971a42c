// The wallet: balance and history (live on `transfer_received`), sending money to a username,
// refunds of money received, the 24-hour sending limit, donate links (create, copy, revoke),
// and for admins a deposit form (the only way money enters). A payment attempt keeps its Idempotency-Key until
// it gets a definite answer: resubmitting the same payment after a lost answer or a double
// click replays the first result instead of paying again.

import { api } from "../api.js";
import { on } from "../events.js";
import { h, replace, field, formError, money, parseAmount, uid, dateTime } from "../dom.js";
import { submitting, describe } from "../errors.js";
import { session } from "../session.js";

export function walletView(main) {
  let currency = "USD";
  let cursor = null;
  const balance = h("p", { class: "balance", testid: "wallet-balance", "aria-live": "polite" }, "…");
  const allowance = h("p", { class: "muted", testid: "daily-limit", hidden: true });
  const history = h("ul", { class: "list", testid: "wallet-history", "aria-label": "Transactions" });
  const more = h("button", { type: "button", class: "link", testid: "history-more", hidden: true, onclick: () => loadHistory(true) }, "Older transactions");
  const error = h("p", { class: "error", role: "alert" });

  const refresh = async () => {
    try {
      const w = await api("GET", "/wallet");
      currency = w.currency;
      replace(balance, money(w.balance, w.currency));
      balance.dataset.minor = String(w.balance);
      allowance.hidden = !w.daily_limit;
      if (w.daily_limit) {
        allowance.textContent = `You can send ${money(w.daily_limit.remaining, w.currency)} more in the next 24 hours (limit ${money(w.daily_limit.limit, w.currency)}).`;
        allowance.dataset.remaining = String(w.daily_limit.remaining);
      }
    } catch (err) { error.textContent = describe(err); }
  };
  // A refund of money received: all that is left of it, or part, with its own key per attempt.
  const refundForm = (e, left) => {
    const form = h("form", { class: "inline", testid: "refund-form", novalidate: true },
      field("Amount to give back", { name: "amount", inputmode: "decimal", value: (left / 100).toFixed(2), required: true, autocomplete: "off" }),
      field("Reason (optional)", { name: "reason", maxlength: 255 }),
      formError(),
      h("button", { type: "submit", class: "primary", testid: "refund-submit" }, "Refund"));
    let attempt = null;
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const v = Object.fromEntries(new FormData(form).entries());
      const amount = parseAmount(v.amount);
      if (!amount) {
        form.querySelector('[data-error-for="amount"]').textContent = "Enter an amount like 5 or 5.25.";
        return;
      }
      const body = { amount };
      if (v.reason) body.reason = v.reason;
      const fingerprint = JSON.stringify(body);
      if (!attempt || attempt.fingerprint !== fingerprint) attempt = { key: uid(), fingerprint };
      const { key } = attempt;
      submitting(form, async () => {
        try {
          const done = await api("POST", `/wallet/transfers/${encodeURIComponent(e.transfer_id)}/refunds`, body, { idempotencyKey: key });
          refundStatus.textContent = `Refunded ${money(done.transfer.amount, done.transfer.currency)} to @${done.transfer.to}.`;
          refresh();
          loadHistory();
        } catch (err) {
          if (err.status && err.code !== "request_in_progress") attempt = null;
          throw err;
        }
      });
    });
    return form;
  };
  const refundStatus = h("p", { class: "muted", role: "status", testid: "refund-status" });
  const entry = (e) => {
    const refunded = e.refunded_total || 0;
    const left = e.amount - refunded;
    const refundable = e.direction === "in" && (e.kind === "transfer" || e.kind === "donation") && left > 0;
    const slot = h("div", { class: "refund-slot" });
    return h("li", { class: "entry", testid: "wallet-entry", "data-kind": e.kind, "data-direction": e.direction, "data-id": e.transfer_id },
      h("span", { class: e.direction === "in" ? "in" : "out" }, `${e.direction === "in" ? "+" : "−"}${money(e.amount, e.currency)}`),
      h("span", { class: "chat-main" },
        h("span", {}, e.kind === "deposit" ? "Deposit" : `${e.direction === "in" ? "from" : "to"} @${e.counterparty || "?"}`,
          e.kind === "donation" ? " (donation)" : "", e.kind === "refund" ? " (refund)" : ""),
        e.description ? h("small", { class: "muted" }, e.description) : null,
        refunded ? h("small", { class: "muted", testid: "entry-refunded" }, `${money(refunded, e.currency)} refunded`) : null,
        slot),
      h("small", { class: "muted" }, dateTime(e.created_at)),
      refundable ? h("button", { type: "button", class: "link", testid: "refund-open", onclick: () => {
        if (slot.firstChild) replace(slot); else replace(slot, refundForm(e, left));
      } }, "Refund") : null);
  };
  async function loadHistory(older = false) {
    try {
      const page = await api("GET", `/wallet/transactions?limit=20${older && cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      if (!older) replace(history);
      history.append(...page.items.map(entry));
      if (!history.children.length) history.append(h("li", { class: "muted" }, "No transactions yet."));
      cursor = page.next_cursor;
      more.hidden = !cursor;
    } catch (err) { error.textContent = describe(err); }
  }

  // --- send money ---
  const send = h("form", { class: "card", testid: "send-money-form", novalidate: true },
    h("h2", {}, "Send money"),
    field("To (username)", { name: "to", autocomplete: "off", required: true }),
    field("Amount", { name: "amount", inputmode: "decimal", placeholder: "12.50", required: true, autocomplete: "off" }),
    field("What for (optional)", { name: "description", maxlength: 255 }),
    formError(),
    h("button", { type: "submit", class: "primary", testid: "send-money" }, "Send"),
    h("p", { class: "muted", role: "status", testid: "send-money-status" }));
  let attempt = null; // {key, fingerprint}: kept until a definite answer
  send.addEventListener("submit", (e) => {
    e.preventDefault();
    const v = Object.fromEntries(new FormData(send).entries());
    const amount = parseAmount(v.amount);
    const status = send.querySelector('[data-testid="send-money-status"]');
    status.textContent = "";
    if (!amount) {
      send.querySelector('[data-error-for="amount"]').textContent = "Enter an amount like 12 or 12.50.";
      return;
    }
    const body = { to: v.to.trim().replace(/^@/, ""), amount };
    if (v.description) body.description = v.description;
    const fingerprint = JSON.stringify(body);
    if (!attempt || attempt.fingerprint !== fingerprint) attempt = { key: uid(), fingerprint };
    const { key } = attempt;
    submitting(send, async () => {
      try {
        const done = await api("POST", "/wallet/transfers", body, { idempotencyKey: key });
        status.textContent = `Sent ${money(done.transfer.amount, done.transfer.currency)} to @${done.transfer.to}.`;
        send.reset();
        attempt = null;
        replace(balance, money(done.balance, currency));
        balance.dataset.minor = String(done.balance);
        loadHistory();
      } catch (err) {
        // Refused for good: the next submit is a new attempt. Still running: keep the key.
        if (err.status && err.code !== "request_in_progress") attempt = null;
        throw err;
      }
    });
  });

  // --- deposits (admins only: the server refuses anyone else with 403 whatever this shows) ---
  const deposit = h("form", { class: "card", testid: "deposit-form", novalidate: true },
    h("h2", {}, "Deposit (admin)"),
    field("Into the wallet of (username)", { name: "username", autocomplete: "off", required: true }),
    field("Amount", { name: "amount", inputmode: "decimal", placeholder: "50.00", required: true, autocomplete: "off" }),
    field("What for (optional)", { name: "description", maxlength: 255 }),
    formError(),
    h("button", { type: "submit", class: "primary", testid: "deposit-submit" }, "Deposit"),
    h("p", { class: "muted", role: "status", testid: "deposit-status" }));
  let depositAttempt = null; // as for payments: one key per attempt, kept until a definite answer
  deposit.addEventListener("submit", (e) => {
    e.preventDefault();
    const v = Object.fromEntries(new FormData(deposit).entries());
    const amount = parseAmount(v.amount);
    const status = deposit.querySelector('[data-testid="deposit-status"]');
    status.textContent = "";
    if (!amount) {
      deposit.querySelector('[data-error-for="amount"]').textContent = "Enter an amount like 50 or 50.00.";
      return;
    }
    const body = { username: v.username.trim().replace(/^@/, ""), amount };
    if (v.description) body.description = v.description;
    const fingerprint = JSON.stringify(body);
    if (!depositAttempt || depositAttempt.fingerprint !== fingerprint) depositAttempt = { key: uid(), fingerprint };
    const { key } = depositAttempt;
    submitting(deposit, async () => {
      try {
        const done = await api("POST", "/wallet/deposits", body, { idempotencyKey: key });
        status.textContent = `Deposited ${money(done.transfer.amount, done.transfer.currency)} into @${done.transfer.to}'s wallet.`;
        deposit.reset();
        depositAttempt = null;
        refresh();
        loadHistory();
      } catch (err) {
        if (err.status && err.code !== "request_in_progress") depositAttempt = null;
        throw err;
      }
    });
  });

  // --- donate links ---
  const links = h("ul", { class: "list", testid: "donate-links" });
  const create = h("form", { class: "card", testid: "donate-form", novalidate: true },
    h("h2", {}, "Donate links"),
    h("p", { class: "muted" }, "Anyone with the link can pay you, logged in."),
    field("Valid for (minutes)", { name: "expires_in_minutes", inputmode: "numeric", value: "1440", required: true }),
    field("Fixed amount (optional)", { name: "amount", inputmode: "decimal", autocomplete: "off" }),
    field("Description (optional)", { name: "description", maxlength: 255 }),
    formError(),
    h("button", { type: "submit", class: "primary", testid: "create-donate" }, "Create link"),
    links);
  create.addEventListener("submit", (e) => {
    e.preventDefault();
    const v = Object.fromEntries(new FormData(create).entries());
    const body = { expires_in_minutes: Number(v.expires_in_minutes) };
    if (v.amount) {
      body.amount = parseAmount(v.amount);
      if (!body.amount) { create.querySelector('[data-error-for="amount"]').textContent = "Enter an amount like 5 or 5.25."; return; }
    }
    if (v.description) body.description = v.description;
    submitting(create, async () => {
      await api("POST", "/donate-links", body);
      create.elements.amount.value = "";
      create.elements.description.value = "";
      loadLinks();
    });
  });
  const linkRow = (l) => {
    const url = h("input", { readonly: true, value: l.url, testid: "donate-url", "aria-label": "Link" });
    const copied = h("small", { class: "muted", role: "status" });
    return h("li", { class: "donate", testid: "donate-link", "data-id": l.id },
      h("span", {}, l.amount ? money(l.amount, l.currency) : "any amount", l.description ? ` — ${l.description}` : "", l.active ? "" : " (expired)"),
      url,
      h("span", { class: "row" },
        h("button", { type: "button", testid: "copy-donate", onclick: async () => {
          url.select();
          try { await navigator.clipboard.writeText(l.url); copied.textContent = "Copied."; } catch { copied.textContent = "Selected: press Ctrl+C to copy."; }
        } }, "Copy"),
        h("a", { href: new URL(l.url, location.href).pathname, testid: "open-donate" }, "Open"),
        l.active ? h("button", { type: "button", class: "link danger", testid: "revoke-donate", onclick: async () => {
          try { await api("DELETE", `/donate-links/${encodeURIComponent(l.id)}`); loadLinks(); } catch (err) { copied.textContent = describe(err); }
        } }, "Revoke") : null,
        copied));
  };
  async function loadLinks() {
    try {
      const page = await api("GET", "/donate-links");
      replace(links, page.items.map(linkRow));
    } catch (err) { error.textContent = describe(err); }
  }

  main.append(h("div", { class: "bar" }, h("h1", {}, "Wallet")), error,
    h("section", { class: "card" }, h("h2", {}, "Balance"), balance, allowance), send,
    h("section", { class: "card" }, h("h2", {}, "History"), refundStatus, history, more), create);
  if (session.me?.role === "admin") main.append(deposit);
  refresh();
  loadHistory();
  loadLinks();
  const offs = [
    on("ws:transfer_received", () => { refresh(); loadHistory(); }),
    on("ws:reconnected", () => { refresh(); loadHistory(); }),
  ];
  return () => offs.forEach((off) => off());
}
