// Problem+json in words, next to what caused it: field errors under their inputs, the rest on
// the form's error line; a `retry_after` becomes a live countdown with the submit button held.

import { ApiDown, ApiError } from "./api.js";

const WORDS = {
  invalid_credentials: "Wrong username/email or password.",
  username_taken: "That username is taken.",
  invalid_code: "That code is not right.",
  code_expired: "The code has expired. Ask for a new one.",
  too_many_attempts: "Too many wrong codes. Please sign up again.",
  invalid_token: "This reset link is invalid, used or expired. Ask for a new one.",
  password_mismatch: "The passwords do not match.",
  insufficient_funds: "Not enough money in your wallet.",
  self_transfer: "You cannot send money to yourself.",
  blocked: "You cannot do this: one of you blocked the other.",
  forbidden: "You are not allowed to do this.",
  not_found: "Not found (or not visible to you).",
  link_expired: "This donate link has expired or was revoked.",
  refund_exceeds_transfer: "That is more than is left to refund of this payment.",
  too_many_refunds: "This payment was refunded the most times it can be.",
  not_refundable: "Only money you received can be refunded.",
  rate_limited: "Slow down a little.",
  too_many_pins: "This chat has 50 pinned messages: unpin one first.",
  too_many_reactions: "Three reactions per message at most: take one off first.",
  request_in_progress: "This payment is still being processed.",
  idempotency_key_reused: "This attempt was already used for a different payment. Try again.",
  file_too_large: "The file is too large.",
  unsupported_file_type: "This type of file cannot be sent.",
  upload_missing: "The file did not finish uploading.",
  unauthorized: "Your session has ended. Please log in again.",
};

/** Refusals that are about one input: shown under it when the form has it. */
const FIELD_OF = {
  username_taken: "username",
  invalid_code: "code",
  code_expired: "code",
  password_mismatch: "confirm_password",
  self_transfer: "to",
  insufficient_funds: "amount",
  amount_mismatch: "amount",
  limit_exceeded: "amount",
  refund_exceeds_transfer: "amount",
  blocked: "to",
};

/** The words for an error: our phrasing of its code, else the server's detail. */
export function describe(err) {
  if (err instanceof ApiDown) return "Cannot reach the server. Check your connection and try again.";
  if (err instanceof ApiError) {
    let text = WORDS[err.code] || err.problem.detail || err.problem.title || `Request failed (${err.status}).`;
    if (err.code === "invalid_code" && err.problem.attempts_left !== undefined) {
      text += ` ${err.problem.attempts_left} attempts left.`;
    }
    if (err.code === "limit_exceeded") {
      const left = (err.problem.remaining / 100).toFixed(2);
      text = `This would pass your 24-hour sending limit (${left} left).`;
      if (err.problem.frees_at) text += ` It fits from ${new Date(err.problem.frees_at).toLocaleString()}.`;
    }
    return text;
  }
  return String(err?.message || err);
}

/** Clears every error shown in `root`. */
export function clearErrors(root) {
  for (const el of root.querySelectorAll("[data-error-for]")) el.textContent = "";
  for (const el of root.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
}

/**
 * Shows `err` inside `root`: each `errors[].field` under its input (`name=field`), everything
 * else on the form-level line. With `retryAfter`, counts down and disables `button` until then.
 */
export function showError(root, err, button) {
  clearErrors(root);
  const general = root.querySelector('[data-error-for=""]');
  const fields = err instanceof ApiError ? err.errors : [];
  let placed = false;
  for (const { field, message } of fields) {
    const slot = root.querySelector(`[data-error-for="${CSS.escape(field || "")}"]`);
    const input = root.querySelector(`[name="${CSS.escape(field || "")}"]`);
    if (slot && field) {
      slot.textContent = message;
      input?.setAttribute("aria-invalid", "true");
      placed = true;
    }
  }
  const own = err instanceof ApiError && FIELD_OF[err.code];
  const ownSlot = own && root.querySelector(`[data-error-for="${own}"]`);
  if (!placed && ownSlot && !(err.retryAfter > 0)) {
    ownSlot.textContent = describe(err);
    root.querySelector(`[name="${own}"]`)?.setAttribute("aria-invalid", "true");
    placed = true;
  }
  if (!placed && general) general.textContent = describe(err);
  if (err instanceof ApiError && err.retryAfter > 0 && general) countdown(general, describe(err), err.retryAfter, button);
}

const timers = new WeakMap();
/** "Slow down a little. Try again in 12 s." ticking down to zero, then the button comes back. */
export function countdown(el, text, seconds, button) {
  clearInterval(timers.get(el));
  let left = Math.ceil(seconds);
  const tick = () => {
    if (left <= 0) {
      clearInterval(timers.get(el));
      el.textContent = "";
      if (button) button.disabled = false;
      return;
    }
    el.textContent = `${text} Try again in ${left} s.`;
    el.dataset.retryAfter = String(left);
    if (button) button.disabled = true;
    left -= 1;
  };
  tick();
  timers.set(el, setInterval(tick, 1000));
}

/** Runs `work` for a submitted form: busy button, errors cleared before and shown after. */
export async function submitting(form, work) {
  const button = form.querySelector("button[type=submit]");
  if (button?.disabled) return undefined;
  clearErrors(form);
  if (button) button.disabled = true;
  let held = false;
  try {
    return await work();
  } catch (err) {
    showError(form, err, button);
    held = err instanceof ApiError && err.retryAfter > 0;
    return undefined;
  } finally {
    if (button && !held) button.disabled = false;
  }
}
