// The app's entry: reads /config.json, routes (the few real paths people arrive at from
// outside — /reset-password, /donate/{id}, /login, /signup, /forgot-password — and `#/…` inside
// the app), keeps the socket open while logged in, shows the API-down banner, and sends the
// person to login when their session is refused, keeping where they were.

import { loadConfig, setTokens, signedIn } from "./api.js";
import { on } from "./events.js";
import * as ws from "./ws.js";
import { h, replace } from "./dom.js";
import { loadMe, rememberPlace, session, takePlace } from "./session.js";
import { loginView, signupView, forgotView, resetView } from "./views/auth.js";
import { chatsView } from "./views/chats.js";
import { roomView } from "./views/room.js";
import { newChatView } from "./views/newchat.js";
import { walletView } from "./views/wallet.js";
import { donateView } from "./views/donate.js";
import { profileView } from "./views/profile.js";

const main = document.getElementById("view");
const top = document.getElementById("top");
const banner = document.getElementById("banner");
let dispose = null;
let current = null;
let notice = "";

/** Goes to an app path or hash route and renders it. */
export function go(target) {
  history.pushState(null, "", target.startsWith("#") ? `/${target}` : target);
  route();
}

/** After a login or signup: open the socket and return to where the person was. */
export async function loggedIn(tokenPair) {
  setTokens(tokenPair);
  await loadMe();
  ws.connect();
  go(takePlace() || "#/chats");
}

function show(view, ...args) {
  dispose?.();
  dispose = null;
  replace(main);
  const message = notice;
  notice = "";
  if (message) main.append(h("p", { class: "notice", role: "status", testid: "notice" }, message));
  const token = {};
  current = token;
  const result = view(main, ...args);
  if (typeof result === "function") dispose = result;
  else if (result?.then) {
    // An async view may finish after the person moved on: then it is disposed at once.
    result.then((d) => { if (typeof d === "function") { if (current === token) dispose = d; else d(); } });
  }
}

let routed = "";
async function route() {
  routed = location.href;
  const path = location.pathname;
  const params = new URLSearchParams(location.search);
  top.hidden = !signedIn();
  for (const a of top.querySelectorAll("a")) {
    const here = path === "/" ? `/${location.hash || "#/chats"}` : path;
    a.toggleAttribute("aria-current", here.startsWith(a.getAttribute("href")));
  }
  if (path === "/reset-password") return show(resetView, params.get("token") || "");
  if (path.startsWith("/donate/")) return show(donateView, decodeURIComponent(path.slice(8)));
  if (path === "/signup") return show(signupView);
  if (path === "/forgot-password") return show(forgotView);
  if (!signedIn() || path === "/login") {
    top.hidden = true;
    return show(loginView);
  }
  if (!session.me) {
    try { await loadMe(); } catch { return; }
  }
  ws.connect();
  const hash = location.hash || "#/chats";
  const room = hash.match(/^#\/room\/([^/]+)$/);
  if (room) return show(roomView, decodeURIComponent(room[1]));
  if (hash === "#/new") return show(newChatView);
  if (hash === "#/wallet") return show(walletView);
  if (hash === "#/profile") return show(profileView);
  return show(chatsView);
}

// A refused session (refresh failed too): keep the place and the drafts, ask to log in again.
let ending = false;
on("session-ended", () => {
  if (ending) return;
  ending = true;
  rememberPlace();
  setTokens(null);
  session.me = null;
  ws.disconnect();
  notice = "Your session has ended. Log in again to continue where you were — your draft is kept.";
  history.pushState(null, "", "/login");
  route().finally(() => { ending = false; });
});

// The socket's state, for people (a "Reconnecting…" hint) and for tests (data-ws on <html>).
const wsState = document.getElementById("ws-state");
on("ws-state", (state) => {
  document.documentElement.dataset.ws = state;
  wsState.hidden = state === "open" || !signedIn();
});

on("api-down", (isDown) => {
  banner.hidden = !isDown;
  if (!isDown) banner.textContent = "";
});
on("api-down-countdown", (seconds) => {
  replace(banner, `Cannot reach the Chatman server. Retrying in ${seconds} s…`);
});

// Links to `#/…` fire both events in Chrome: render once per URL.
const onNavigate = () => { if (location.href !== routed) route(); };
window.addEventListener("popstate", onNavigate);
window.addEventListener("hashchange", onNavigate);

loadConfig()
  .catch(() => { /* same-origin defaults */ })
  .then(route);
