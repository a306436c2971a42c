// Talking to the Chatman HTTP API: the base URL from /config.json, the session's tokens,
// one refresh on a 401 (shared by every request that hit it), problem+json errors as
// `ApiError`, and the "API is down" state that retries until the server answers again.

import { emit } from "./events.js";

let config = { api_url: "", ws_ticket_route: "/ws/tickets" };
const TOKENS = "chatman.tokens";

/** Reads /config.json once (the server writes it: the same files work against any stack). */
export async function loadConfig() {
  const res = await fetch("/config.json", { cache: "no-cache" });
  if (res.ok) config = { ...config, ...(await res.json()) };
  config.api_url = String(config.api_url || "").replace(/\/$/, "");
  return config;
}

export const apiUrl = (path) => `${config.api_url}${path}`;
export const ticketRoute = () => config.ws_ticket_route;

export function tokens() {
  try { return JSON.parse(localStorage.getItem(TOKENS)) || null; } catch { return null; }
}
export function setTokens(t) {
  if (t) localStorage.setItem(TOKENS, JSON.stringify({ access: t.access_token, refresh: t.refresh_token }));
  else localStorage.removeItem(TOKENS);
}
export const signedIn = () => Boolean(tokens()?.access);

/** A refused request: the problem document's fields, plus `retryAfter` seconds when given. */
export class ApiError extends Error {
  constructor(status, problem, retryAfter) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.code = problem.code || "";
    this.problem = problem;
    this.errors = Array.isArray(problem.errors) ? problem.errors : [];
    this.retryAfter = retryAfter;
  }
}
/** The server could not be reached at all. */
export class ApiDown extends Error {}

let refreshing = null;
async function refresh() {
  const current = tokens();
  if (!current?.refresh) return false;
  refreshing ??= (async () => {
    try {
      const res = await fetch(apiUrl("/auth/token/refresh"), {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ refresh_token: current.refresh }),
      });
      if (!res.ok) return false;
      setTokens(await res.json());
      return true;
    } catch {
      return false;
    } finally {
      setTimeout(() => { refreshing = null; }, 0);
    }
  })();
  return refreshing;
}

// --- API down: one probe loop, a banner while it runs ---
let down = null;
function markDown() {
  if (down) return down;
  emit("api-down", true);
  down = (async () => {
    for (let wait = 1; ; wait = Math.min(wait * 2, 8)) {
      for (let s = wait; s > 0; s--) {
        emit("api-down-countdown", s);
        await new Promise((r) => setTimeout(r, 1000));
      }
      try {
        await fetch(apiUrl("/wallet"), { cache: "no-store" }); // any answer (401 too) means it is up
        break;
      } catch { /* still down */ }
    }
    down = null;
    emit("api-down", false);
  })();
  return down;
}

/**
 * One API call. `opts.idempotencyKey` adds the header; `opts.retryWhenDown` waits for the API to
 * come back and sends again (reads, and writes whose key makes a repeat harmless).
 * Resolves with the parsed body (null for 204); rejects with ApiError or ApiDown.
 */
export async function api(method, path, body, opts = {}) {
  const { auth = true, idempotencyKey, retryWhenDown = method === "GET" || Boolean(idempotencyKey) } = opts;
  for (let attempt = 0; ; attempt++) {
    const headers = {};
    if (body !== undefined) headers["content-type"] = "application/json";
    if (idempotencyKey) headers["idempotency-key"] = idempotencyKey;
    const t = tokens();
    if (auth && t?.access) headers.authorization = `Bearer ${t.access}`;
    let res;
    try {
      res = await fetch(apiUrl(path), {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      const wait = markDown();
      if (!retryWhenDown) throw new ApiDown("The server cannot be reached.");
      await wait;
      continue;
    }
    if (res.status === 401 && auth && attempt === 0 && (await refresh())) continue;
    if (res.status === 401 && auth) {
      emit("session-ended");
      throw new ApiError(401, { code: "unauthorized", detail: "Your session has ended. Please log in again." });
    }
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = { detail: text }; }
    if (res.ok) return data;
    const retryAfter = Number(res.headers.get("retry-after")) || Number(data?.retry_after) || 0;
    throw new ApiError(res.status, data || {}, retryAfter);
  }
}

/** PUTs a file to a presigned URL with exactly the headers the API returned, reporting progress. */
export function putFile(upload, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(upload.method || "PUT", upload.url);
    for (const [name, value] of Object.entries(upload.headers || {})) {
      // The browser sets content-length itself (from the file) and refuses to be told it.
      if (name.toLowerCase() !== "content-length") xhr.setRequestHeader(name, value);
    }
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress?.(e.loaded / e.total);
    xhr.onload = () => (xhr.status >= 200 && xhr.status < 300
      ? resolve()
      : reject(new ApiError(xhr.status, { code: "upload_refused", detail: `The storage refused the file (${xhr.status}).` })));
    xhr.onerror = () => reject(new ApiDown("The file storage cannot be reached."));
    xhr.send(file);
  });
}

/** Asks for an upload, PUTs the bytes, and answers the upload id. */
export async function upload(purpose, file, onProgress) {
  const ticket = await api("POST", "/uploads", {
    purpose, filename: file.name, content_type: file.type || "application/octet-stream", size: file.size,
  });
  await putFile(ticket, file, onProgress);
  return ticket.upload_id;
}
