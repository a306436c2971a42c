// Who is logged in, and what to come back to: the place the person was when a session ended
// (their drafts stay in sessionStorage by room, see views/room.js) and the resume after login.

import { api, setTokens, tokens } from "./api.js";

export const session = { me: null };

const RESUME = "chatman.resume";

export async function loadMe() {
  session.me = await api("GET", "/me");
  return session.me;
}

/** Remembers where the person is (path, query and hash) to return there after logging in. */
export function rememberPlace() {
  sessionStorage.setItem(RESUME, location.pathname + location.search + location.hash);
}

/** The remembered place, once. */
export function takePlace() {
  const place = sessionStorage.getItem(RESUME);
  sessionStorage.removeItem(RESUME);
  return place;
}

export function draftKey(roomId) {
  return `chatman.draft.${roomId}`;
}

/** Logs out this device: the refresh token is retired, local drafts are dropped. */
export async function logout() {
  const t = tokens();
  if (t?.refresh) {
    try { await api("POST", "/auth/logout", { refresh_token: t.refresh }, { auth: false, retryWhenDown: false }); } catch { /* gone anyway */ }
  }
  setTokens(null);
  session.me = null;
  for (const key of Object.keys(sessionStorage)) if (key.startsWith("chatman.")) sessionStorage.removeItem(key);
}
