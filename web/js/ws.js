// The WebSocket: a fresh single-use ticket for every connection, server events re-emitted on
// the event bus as `ws:<type>`, reconnection with backoff after a drop (then `ws:reconnected`,
// on which views catch up from history), and a ping well inside the idle timeout.
//
// The server closes a socket whose session ended (logout, logout-all, a password change or
// reset elsewhere), after an `error` event `unauthorized` when a frame was refused. The next
// ticket request then answers 401; when the refresh fails too, api.js emits `session-ended` and
// the app goes to login with the draft kept. A refused socket asks at once, without backoff.

import { api, ticketRoute, signedIn } from "./api.js";
import { emit } from "./events.js";

let socket = null;
let wanted = false;
let backoff = 500;
let pinger = null;
let everOpened = false;
let opening = false; // a ticket is being fetched: a second connect() must not open a second socket
let refused = false; // the server said `unauthorized`: check the session now, not after a backoff

export function connected() {
  return socket?.readyState === WebSocket.OPEN;
}

/** Opens the socket (idempotent) and keeps it open until `disconnect()`. */
export function connect() {
  wanted = true;
  if (opening || (socket && socket.readyState <= WebSocket.OPEN)) return;
  open();
}

export function disconnect() {
  wanted = false;
  clearInterval(pinger);
  socket?.close(1000);
  socket = null;
  everOpened = false;
}

async function open() {
  if (!signedIn()) return;
  let ticket;
  opening = true;
  try {
    ticket = await api("POST", ticketRoute(), undefined, { retryWhenDown: false });
  } catch {
    return retryLater();
  } finally {
    opening = false;
  }
  if (!wanted || socket) return;
  const ws = new WebSocket(ticket.url);
  socket = ws;
  ws.onopen = () => {
    backoff = 500;
    emit("ws-state", "open");
    if (everOpened) emit("ws:reconnected");
    everOpened = true;
    clearInterval(pinger);
    pinger = setInterval(() => send({ action: "ping" }), 5 * 60 * 1000);
  };
  ws.onmessage = (e) => {
    let event;
    try { event = JSON.parse(e.data); } catch { return; }
    if (event?.type === "error" && event.code === "unauthorized") refused = true;
    if (event?.type) emit(`ws:${event.type}`, event);
  };
  ws.onclose = () => {
    if (socket !== ws) return;
    socket = null;
    clearInterval(pinger);
    emit("ws-state", "closed");
    if (!wanted) return;
    // A close the app did not ask for may mean the session ended: a ticket request finds out
    // (401, a failed refresh, then `session-ended`). A refusal checks at once.
    if (refused) {
      refused = false;
      open();
    } else {
      retryLater();
    }
  };
}

function retryLater() {
  if (!wanted) return;
  setTimeout(() => wanted && !socket && !opening && open(), backoff);
  backoff = Math.min(backoff * 2, 10000);
}

/** Sends one action frame; false when the socket is not open (the caller falls back to HTTP). */
export function send(frame) {
  if (!connected()) return false;
  socket.send(JSON.stringify(frame));
  return true;
}
