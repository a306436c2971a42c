// Signing up (with the emailed code), logging in, asking for a reset link and resetting the
// password from it. Every field's error is shown under it, in words.

import { api } from "../api.js";
import { h, field, formError } from "../dom.js";
import { countdown, submitting } from "../errors.js";
import { go, loggedIn } from "../app.js";

const values = (form) => Object.fromEntries(new FormData(form).entries());

function link(path, text, testid) {
  return h("a", { href: path, testid, onclick: (e) => { e.preventDefault(); go(path); } }, text);
}

export function loginView(main) {
  const form = h("form", { class: "card", testid: "login-form", novalidate: true },
    h("h1", {}, "Log in"),
    field("Username or email", { name: "login", autocomplete: "username", required: true }),
    field("Password", { name: "password", type: "password", autocomplete: "current-password", required: true }),
    formError(),
    h("button", { type: "submit", class: "primary", testid: "login-submit" }, "Log in"),
    h("p", { class: "links" }, link("/signup", "Create an account", "to-signup"), " · ", link("/forgot-password", "Forgot password?", "to-forgot")));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    submitting(form, async () => {
      const tokens = await api("POST", "/auth/token", values(form), { auth: false, retryWhenDown: false });
      await loggedIn(tokens);
    });
  });
  main.append(form);
  form.querySelector("input")?.focus();
}

export function signupView(main) {
  const form = h("form", { class: "card", testid: "signup-form", novalidate: true },
    h("h1", {}, "Create an account"),
    field("Username", { name: "username", autocomplete: "username", required: true }),
    field("Email", { name: "email", type: "email", autocomplete: "email", required: true }),
    field("Password", { name: "password", type: "password", autocomplete: "new-password", required: true }),
    field("First name (optional)", { name: "first_name", autocomplete: "given-name" }),
    formError(),
    h("button", { type: "submit", class: "primary", testid: "signup-submit" }, "Sign up"),
    h("p", { class: "links" }, link("/login", "I have an account", "to-login")));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    submitting(form, async () => {
      const body = values(form);
      if (!body.first_name) delete body.first_name;
      const started = await api("POST", "/auth/signup", body, { auth: false, retryWhenDown: false });
      form.replaceWith(codeForm(started));
    });
  });
  main.append(form);
  form.querySelector("input")?.focus();
}

function codeForm(started) {
  const resendError = formError("resend-error");
  const resend = h("button", { type: "button", testid: "resend-code" }, "Send the code again");
  const form = h("form", { class: "card", testid: "code-form", novalidate: true },
    h("h1", {}, "Check your email"),
    h("p", {}, "We sent a 6-digit code to ", h("strong", {}, started.email), "."),
    field("Code", { name: "code", inputmode: "numeric", autocomplete: "one-time-code", maxlength: 6, required: true }),
    formError(),
    h("button", { type: "submit", class: "primary", testid: "code-submit" }, "Verify"),
    resend, resendError);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    submitting(form, async () => {
      const done = await api("POST", "/auth/signup/verify", { signup_id: started.signup_id, code: values(form).code.trim() }, { auth: false, retryWhenDown: false });
      await loggedIn(done.tokens);
    });
  });
  resend.addEventListener("click", async () => {
    resend.disabled = true;
    try {
      await api("POST", "/auth/signup/resend", { signup_id: started.signup_id }, { auth: false, retryWhenDown: false });
      resendError.textContent = "Sent again.";
      resend.disabled = false;
    } catch (err) {
      if (err.retryAfter) countdown(resendError, "You can ask again soon.", err.retryAfter, resend);
      else { resendError.textContent = err.message; resend.disabled = false; }
    }
  });
  setTimeout(() => form.querySelector("input")?.focus());
  return form;
}

export function forgotView(main) {
  const form = h("form", { class: "card", testid: "forgot-form", novalidate: true },
    h("h1", {}, "Reset your password"),
    field("Email", { name: "email", type: "email", autocomplete: "email", required: true }),
    formError(),
    h("button", { type: "submit", class: "primary" }, "Email me a link"),
    h("p", { class: "links" }, link("/login", "Back to login", "to-login")));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    submitting(form, async () => {
      await api("POST", "/auth/password/forgot", values(form), { auth: false, retryWhenDown: false });
      form.replaceWith(h("div", { class: "card", testid: "forgot-sent" },
        h("h1", {}, "Check your email"),
        h("p", {}, "If an account uses this address, a reset link is on its way. It works for 5 minutes."),
        link("/login", "Back to login", "to-login")));
    });
  });
  main.append(form);
}

export function resetView(main, token) {
  const form = h("form", { class: "card", testid: "reset-form", novalidate: true },
    h("h1", {}, "Choose a new password"),
    field("New password", { name: "new_password", type: "password", autocomplete: "new-password", required: true }),
    field("Repeat it", { name: "confirm_password", type: "password", autocomplete: "new-password", required: true }),
    h("small", { class: "error", "data-error-for": "token" }),
    formError(),
    h("button", { type: "submit", class: "primary", testid: "reset-submit" }, "Set password"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    submitting(form, async () => {
      await api("POST", "/auth/password/reset", { token, ...values(form) }, { auth: false, retryWhenDown: false });
      form.replaceWith(h("div", { class: "card", testid: "reset-done" },
        h("h1", {}, "Password changed"),
        h("p", {}, "Every session was logged out. Log in with your new password."),
        link("/login", "Log in", "to-login")));
    });
  });
  main.append(form);
}
