// A room: its history (older pages load when scrolling to the top), live messages, typing and
// read receipts from the socket, sending text and files (with upload progress), deleting, and
// sending money in the chat over the socket. The composer's draft is saved as it is typed, so a
// session that ends mid-sentence comes back to it after login.
//
// Exact on screen (docs/REALTIME.md, "Order"): every room event carries the room's `seq`. The
// view remembers the newest seq it has applied; an event past it (a gap: something was lost on
// the wire) or a reconnect fetches what was missed with `after_seq`, oldest first, page by page.
// Messages are keyed by id, so a duplicate shows once, and ids deleted while the view is open are
// remembered, so a late `message` never brings one back.

import { api, upload } from "../api.js";
import { on } from "../events.js";
import * as ws from "../ws.js";
import { h, replace, time, money, bytes, uid, formError, safeUrl } from "../dom.js";
import { describe, showError, clearErrors, submitting } from "../errors.js";
import { session, draftKey } from "../session.js";
import { go } from "../app.js";
import { avatar } from "./chats.js";
import { membersPanel } from "./members.js";
import { transferForm } from "./chatpay.js";
import { quote, replyBar, showDeleted } from "./replies.js";
import { reactionRow } from "./reactions.js";
import { pinsBar } from "./pins.js";

const PAGE = 30;

export async function roomView(main, roomId) {
  const me = session.me.username;
  let room = null;
  let cursor = null;
  let loadingOlder = false;
  const shown = new Map(); // message id → element
  const readBy = new Map(); // username → newest message id they read
  const typing = new Map(); // username → timer
  let lastSeq = 0; // every message up to this seq is on screen (or was deleted)
  const deleted = new Set(); // ids deleted while this view is open: never shown again
  let catching = null; // the catch-up in flight, if any
  let catchAgain = false; // something arrived during it: run once more
  let catchTo = 0; // the seq the catch-up must reach at least
  let loaded = false; // the newest page is in: before it, `lastSeq` says nothing yet

  const title = h("h1", { class: "room-name", testid: "room-name" }, "…");
  const head = h("div", { class: "bar room-bar" },
    h("a", { href: "#/chats", class: "back", "aria-label": "Back to chats" }, "←"),
    h("span", { testid: "room-avatar-slot" }), title);
  const older = h("button", { type: "button", class: "link", testid: "load-older", hidden: true, onclick: () => loadOlder() }, "Load older messages");
  const list = h("ol", { class: "messages", testid: "messages", "aria-live": "polite", "aria-label": "Messages" });
  const scroller = h("div", { class: "scroller", testid: "scroller" }, older, list);
  const typingLine = h("p", { class: "typing muted", testid: "typing-indicator", "aria-live": "polite" });
  const roomError = h("p", { class: "error", role: "alert", testid: "room-error" });

  // --- composer ---
  const text = h("textarea", { name: "text", rows: 1, testid: "composer-input", placeholder: "Message", "aria-label": "Message", maxlength: 4000 });
  text.value = sessionStorage.getItem(draftKey(roomId)) || "";
  const fileInput = h("input", { type: "file", multiple: true, class: "visually-hidden", tabindex: "-1", "aria-hidden": "true", testid: "attach-input" });
  const staged = h("ul", { class: "staged", testid: "staged-files" });
  const stagedIds = [];
  let uploading = 0;
  const sendButton = h("button", { type: "submit", class: "primary", testid: "send-button" }, "Send");
  const replying = replyBar();
  const composer = h("form", { class: "composer", testid: "composer" },
    replying.el,
    h("div", { class: "composer-row" },
      h("button", { type: "button", testid: "attach-button", "aria-label": "Attach files", title: "Attach files", onclick: () => fileInput.click() }, "+ File"),
      fileInput, text, sendButton),
    staged, formError("composer-error"));
  const payArea = h("div", { testid: "pay-area" });
  const payButton = h("button", { type: "button", testid: "open-transfer", onclick: () => togglePay() }, "Send money");
  const membersButton = h("button", { type: "button", testid: "open-members", hidden: true, onclick: () => toggleMembers() }, "Members");
  const membersArea = h("div", { testid: "members-area" });

  const pins = pinsBar(roomId, (id) => jumpTo(id));
  main.append(head, pins.el, h("div", { class: "room-tools" }, payButton, membersButton), membersArea, roomError, scroller, typingLine, payArea, composer);

  // --- rendering ---
  function messageBody(m) {
    if (m.kind === "transfer" && m.transfer) {
      const t = m.transfer;
      return h("p", { class: "transfer", testid: "message-transfer" },
        `${t.from || "?"} sent ${money(t.amount, t.currency)} to ${t.to}`,
        t.description ? ` — ${t.description}` : null);
    }
    return [
      m.reply_to ? quote(m.reply_to, jumpTo) : null,
      m.text ? h("p", { class: "text", testid: "message-text" }, m.text) : null,
      (m.files || []).length ? h("ul", { class: "files" }, m.files.map((f) => h("li", {},
        f.content_type?.startsWith("image/") && safeUrl(f.url)
          ? h("a", { href: safeUrl(f.url), target: "_blank", rel: "noopener", testid: "message-file", "data-filename": f.filename },
            h("img", { src: safeUrl(f.url), alt: f.filename, class: "thumb" }))
          : null,
        h("a", { href: safeUrl(f.url), download: f.filename, rel: "noopener", testid: "message-file-link", "data-filename": f.filename },
          f.filename), h("small", { class: "muted" }, ` ${bytes(f.size || 0)}`)))) : null,
    ];
  }

  function canDelete(m) {
    if (m.sender === me) return true;
    const role = room?.members?.find((x) => x.user.username === me)?.role;
    return room?.kind !== "direct" && (role === "owner" || role === "admin");
  }

  /** Who may pin: either person of a direct room; the owner and admins elsewhere. */
  function canPin() {
    const role = room?.members?.find((x) => x.user.username === me)?.role;
    return room?.kind === "direct" || role === "owner" || role === "admin";
  }

  function render(m) {
    const mine = m.sender === me;
    const reactions = reactionRow(m, (emoji, on) => toggleReaction(m.id, emoji, on));
    const el = h("li", { class: `message ${mine ? "mine" : "theirs"}`, testid: "message", "data-id": m.id, "data-sender": m.sender, "data-client-id": m.client_id || null },
      mine ? null : h("span", { class: "sender", testid: "message-sender" }, m.sender),
      messageBody(m),
      reactions,
      h("span", { class: "meta" },
        h("time", { datetime: m.created_at, class: "muted" }, time(m.created_at)),
        h("small", { class: "muted", testid: "message-edited", hidden: !m.edited_at, title: m.edited_at ? `edited ${time(m.edited_at)}` : null }, " (edited)"),
        reactions.opener,
        canPin()
          ? h("button", { type: "button", class: "link", testid: "pin-message", onclick: () => togglePin(m.id) }, pins.has(m.id) ? "Unpin" : "Pin")
          : null,
        h("button", { type: "button", class: "link", testid: "reply-message", "aria-label": "Reply to this message", onclick: () => startReply(m) }, "Reply"),
        mine && m.kind !== "transfer"
          ? h("button", { type: "button", class: "link", testid: "edit-message", "aria-label": "Edit message", onclick: () => startEdit(m.id) }, "Edit")
          : null,
        canDelete(m) && m.kind !== "transfer"
          ? h("button", { type: "button", class: "link danger", testid: "delete-message", "aria-label": "Delete message", onclick: () => remove(m) }, "Delete")
          : null),
      h("small", { class: "seen muted", testid: "seen-by" }));
    return el;
  }

  function insert(m, { atTop = false } = {}) {
    if (shown.has(m.id) || deleted.has(m.id)) return;
    const el = render(m);
    shown.set(m.id, el);
    if (atTop) list.prepend(el);
    else {
      // Keep time order even if a late event arrives out of order (ids sort by time).
      const after = [...list.children].find((c) => c.dataset.id > m.id);
      list.insertBefore(el, after || null);
    }
  }

  function updateSeen() {
    for (const el of list.querySelectorAll('[data-testid="seen-by"]')) el.textContent = "";
    const mine = [...list.querySelectorAll(".message.mine")];
    for (const [username, id] of readBy) {
      if (username === me) continue;
      const target = mine.filter((el) => el.dataset.id <= id).pop();
      if (target) {
        const slot = target.querySelector('[data-testid="seen-by"]');
        slot.textContent = slot.textContent ? `${slot.textContent}, ${username}` : `Seen by ${username}`;
      }
    }
  }

  const nearBottom = () => scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  const toBottom = () => { scroller.scrollTop = scroller.scrollHeight; };

  // --- loading ---
  async function loadRoom() {
    room = await api("GET", `/rooms/${encodeURIComponent(roomId)}`);
    replace(title, room.name || "(no name)");
    replace(head.querySelector('[data-testid="room-avatar-slot"]'), avatar(room.avatar_url, room.name));
    membersButton.hidden = room.kind === "direct";
    payButton.hidden = false;
    const role = room.members.find((x) => x.user.username === me)?.role;
    const mayPost = room.kind === "direct" || room.posting !== "admins" || role === "owner" || role === "admin";
    composer.hidden = !mayPost;
    if (!mayPost) roomError.textContent = "Only admins post in this room.";
    if (membersArea.firstChild) renderMembers();
  }

  async function loadNewest() {
    const page = await api("GET", `/rooms/${encodeURIComponent(roomId)}/messages?limit=${PAGE}`);
    const stick = nearBottom() || !list.children.length;
    for (const m of [...page.items].reverse()) insert(m);
    if (page.items.length) lastSeq = Math.max(lastSeq, page.items[0].seq);
    if (cursor === null) { cursor = page.next_cursor; older.hidden = !cursor; }
    if (stick) toBottom();
    markRead();
  }

  async function loadOlder() {
    if (!cursor || loadingOlder) return;
    loadingOlder = true;
    const height = scroller.scrollHeight;
    try {
      const page = await api("GET", `/rooms/${encodeURIComponent(roomId)}/messages?limit=${PAGE}&cursor=${encodeURIComponent(cursor)}`);
      for (const m of page.items) insert(m, { atTop: true });
      cursor = page.next_cursor;
      older.hidden = !cursor;
      scroller.scrollTop += scroller.scrollHeight - height; // stay where the reader was
      updateSeen();
    } catch (err) {
      roomError.textContent = describe(err);
    } finally {
      loadingOlder = false;
    }
  }
  scroller.addEventListener("scroll", () => { if (scroller.scrollTop < 60) loadOlder(); });

  /** Fetches every message after `lastSeq`, oldest first, until the room has no more; then
   * `lastSeq` is at least `upTo`. One at a time: a gap seen meanwhile runs it once more. */
  function catchUp(upTo = 0) {
    if (!loaded) return Promise.resolve();
    catchTo = Math.max(catchTo, upTo);
    if (catching) {
      catchAgain = true;
      return catching;
    }
    catching = (async () => {
      try {
        do {
          catchAgain = false;
          let after = lastSeq;
          for (;;) {
            const page = await api("GET", `/rooms/${encodeURIComponent(roomId)}/messages?after_seq=${after}&limit=100`);
            const stick = nearBottom();
            for (const m of page.items) insert(m);
            if (page.items.length) after = page.items[page.items.length - 1].seq;
            if (stick) toBottom();
            if (!page.next_cursor) break;
          }
          lastSeq = Math.max(lastSeq, after, catchTo);
        } while (catchAgain);
        updateSeen();
        markRead();
      } catch (err) {
        roomError.textContent = describe(err);
      } finally {
        catching = null;
      }
    })();
    return catching;
  }

  /** A message from an event or a send's answer: shown in its place; one past the next seq means
   * some were missed, which a catch-up fetches. */
  function arrived(m) {
    insert(m);
    if (m.seq > lastSeq + 1) catchUp(m.seq);
    else lastSeq = Math.max(lastSeq, m.seq);
  }

  /** A `deleted` or `read` at the room's `seq`: past what this view has seen, something was missed. */
  function heardAt(seq) {
    if (seq > lastSeq) catchUp(seq);
  }

  function forget(id) {
    deleted.add(id);
    shown.get(id)?.remove();
    shown.delete(id);
    for (const q of list.querySelectorAll('[data-testid="message-quote"]')) if (q.dataset.replyTo === id) showDeleted(q);
    if (replying.target() === id) replying.clear();
    pins.forget(id);
  }

  async function togglePin(id) {
    roomError.textContent = "";
    try {
      await pins.toggle(id);
    } catch (err) {
      roomError.textContent = describe(err);
    }
  }
  pins.onChange(() => {
    for (const [id, el] of shown) {
      const link = el.querySelector('[data-testid="pin-message"]');
      if (link) link.textContent = pins.has(id) ? "Unpin" : "Pin";
    }
  });

  /** Scrolls to the message a quote answers, when it is on screen, and flashes it. */
  function jumpTo(id) {
    const el = shown.get(id);
    if (!el) return;
    el.scrollIntoView({ block: "center", behavior: "smooth" });
    el.classList.add("flash");
    setTimeout(() => el.classList.remove("flash"), 1200);
  }

  /** The bar shows the text as it is on screen now, which an edit may have changed since. */
  function startReply(m) {
    const current = shown.get(m.id)?.querySelector('[data-testid="message-text"]')?.textContent;
    replying.set({ ...m, text: current ?? m.text });
    text.focus();
  }

  let lastRead = "";
  function markRead() {
    const newest = [...list.children].filter((el) => el.dataset.sender !== me).pop();
    if (!newest || newest.dataset.id <= lastRead || document.hidden) return;
    lastRead = newest.dataset.id;
    const frame = { action: "read", room_id: roomId, message_id: lastRead };
    if (!ws.send(frame)) api("POST", `/rooms/${encodeURIComponent(roomId)}/read`, { message_id: lastRead }).catch(() => {});
  }

  // --- actions ---
  /** Shows an edit (ours or someone's, from the `edited` event) on the message already on screen. */
  function applyEdit(id, text, editedAt) {
    const el = shown.get(id);
    if (!el) return;
    let p = el.querySelector('[data-testid="message-text"]');
    if (!p) {
      p = h("p", { class: "text", testid: "message-text" });
      el.querySelector(".meta").before(p);
    }
    p.textContent = text;
    p.hidden = false;
    const mark = el.querySelector('[data-testid="message-edited"]');
    mark.hidden = false;
    mark.title = `edited ${time(editedAt)}`;
  }

  /** An inline form in place of the text: Save sends PATCH, Escape or Cancel puts it back. */
  function startEdit(id) {
    const el = shown.get(id);
    if (!el || el.querySelector('[data-testid="edit-form"]')) return;
    const p = el.querySelector('[data-testid="message-text"]');
    const input = h("textarea", { name: "text", maxlength: 4000, rows: 2, "aria-label": "Edited text" });
    input.value = p?.textContent || "";
    const close = () => { form.remove(); if (p) p.hidden = false; };
    const form = h("form", { class: "edit", testid: "edit-form", novalidate: true },
      input, formError(),
      h("span", { class: "row" },
        h("button", { type: "submit", class: "primary", testid: "edit-save" }, "Save"),
        h("button", { type: "button", class: "link", testid: "edit-cancel", onclick: close }, "Cancel")));
    input.addEventListener("keydown", (e) => { if (e.key === "Escape") close(); });
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const text = input.value;
      if (!text.trim()) { form.querySelector('[data-error-for=""]').textContent = "A message needs some text."; return; }
      submitting(form, async () => {
        const edited = await api("PATCH", `/rooms/${encodeURIComponent(roomId)}/messages/${encodeURIComponent(id)}`, { text });
        close();
        applyEdit(id, edited.text, edited.edited_at);
      });
    });
    if (p) p.hidden = true;
    el.querySelector(".meta").before(form);
    input.focus();
  }

  /** Puts an emoji on a message or takes it off; the answer is what the row shows. */
  async function toggleReaction(id, emoji, on) {
    roomError.textContent = "";
    try {
      const path = `/rooms/${encodeURIComponent(roomId)}/messages/${encodeURIComponent(id)}/reactions/${encodeURIComponent(emoji)}`;
      return await api(on ? "PUT" : "DELETE", path);
    } catch (err) {
      roomError.textContent = describe(err);
      return null;
    }
  }

  async function remove(m) {
    try {
      await api("DELETE", `/rooms/${encodeURIComponent(roomId)}/messages/${encodeURIComponent(m.id)}`);
      forget(m.id);
    } catch (err) {
      roomError.textContent = describe(err);
    }
  }

  // "Typing" is sent at most every 3 s while the person types, and never sooner than 2 s after
  // the previous typing frame: the server relays one per person and room every 2 s and drops the
  // rest, so a start that would fall inside the window waits for it instead.
  const TYPING_WINDOW = 2100;
  let typingSent = 0; // when the current run of typing was last announced (0: not typing)
  let lastTypingFrame = 0;
  let typingLater = null;
  let typingStop = null;
  function sendTyping(isTyping) {
    lastTypingFrame = Date.now();
    ws.send({ action: "typing", room_id: roomId, is_typing: isTyping });
  }
  function announceTyping() {
    clearTimeout(typingLater);
    const wait = lastTypingFrame + TYPING_WINDOW - Date.now();
    if (wait > 0) {
      typingLater = setTimeout(announceTyping, wait);
      return;
    }
    typingSent = Date.now();
    sendTyping(true);
  }
  text.addEventListener("input", () => {
    sessionStorage.setItem(draftKey(roomId), text.value);
    if (Date.now() - typingSent > 3000) {
      typingSent = Date.now();
      announceTyping();
    }
    clearTimeout(typingStop);
    typingStop = setTimeout(stopTyping, 4000);
  });
  /** `sent`: a message went out, which clears the indicator for the others by itself. */
  function stopTyping(sent = false) {
    clearTimeout(typingStop);
    clearTimeout(typingLater);
    if (typingSent && !sent) sendTyping(false);
    typingSent = 0;
  }
  text.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && replying.target()) replying.clear();
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      composer.requestSubmit();
    }
  });

  fileInput.addEventListener("change", () => {
    for (const file of fileInput.files) stage(file);
    fileInput.value = "";
  });
  function stage(file) {
    const bar = h("progress", { max: 1, value: 0, testid: "upload-progress", "aria-label": `Uploading ${file.name}` });
    const status = h("small", { class: "muted" }, bytes(file.size));
    const row = h("li", { testid: "staged-file", "data-filename": file.name }, `${file.name} `, bar, " ", status);
    staged.append(row);
    uploading += 1;
    upload("message", file, (p) => { bar.value = p; })
      .then((id) => {
        stagedIds.push(id);
        bar.value = 1;
        row.dataset.done = "true";
        replace(status, "ready");
      })
      .catch((err) => {
        row.dataset.failed = "true";
        replace(status, h("span", { class: "error" }, describe(err)));
      })
      .finally(() => { uploading -= 1; });
  }

  composer.addEventListener("submit", (e) => {
    e.preventDefault();
    const body = { client_id: uid() };
    const value = text.value.trim();
    if (value) body.text = value;
    if (stagedIds.length) body.upload_ids = [...stagedIds];
    if (replying.target()) body.reply_to = replying.target();
    clearErrors(composer);
    if (uploading) return showError(composer, new Error("Wait for the files to finish uploading."));
    if (!body.text && !body.upload_ids) return undefined;
    return submitting(composer, async () => {
      const m = await api("POST", `/rooms/${encodeURIComponent(roomId)}/messages`, body, { retryWhenDown: false });
      arrived(m);
      text.value = "";
      sessionStorage.removeItem(draftKey(roomId));
      stagedIds.length = 0;
      replace(staged);
      replying.clear();
      stopTyping(true);
      toBottom();
      text.focus();
    });
  });

  function togglePay() {
    if (payArea.firstChild) return replace(payArea);
    return replace(payArea, transferForm(room, me, () => replace(payArea)));
  }
  function renderMembers() {
    replace(membersArea, membersPanel(room, me, (updated) => { room = updated; renderMembers(); }));
  }
  function toggleMembers() {
    if (membersArea.firstChild) return replace(membersArea);
    return renderMembers();
  }

  // --- live events ---
  const offs = [
    on("ws:message", ({ room_id, message }) => {
      if (room_id !== roomId) return;
      const stick = nearBottom();
      arrived(message);
      if (!shown.has(message.id)) return;
      performance.mark(`message-shown:${message.id}`);
      typing.delete(message.sender);
      renderTyping();
      if (stick || message.sender === me) toBottom();
      markRead();
      updateSeen();
    }),
    on("ws:edited", ({ room_id, message_id, text, edited_at }) => {
      if (room_id !== roomId) return;
      applyEdit(message_id, text, edited_at);
    }),
    on("ws:pinned", ({ room_id }) => { if (room_id === roomId) pins.load().catch(() => {}); }),
    on("ws:unpinned", ({ room_id }) => { if (room_id === roomId) pins.load().catch(() => {}); }),
    on("ws:reaction", (event) => {
      if (event.room_id !== roomId) return;
      shown.get(event.message_id)?.querySelector('[data-testid="reactions"]')?.heard(event, me);
    }),
    on("ws:deleted", ({ room_id, message_id, seq }) => {
      if (room_id !== roomId) return;
      forget(message_id);
      heardAt(seq);
    }),
    on("ws:typing", ({ room_id, username, is_typing }) => {
      if (room_id !== roomId || username === me) return;
      clearTimeout(typing.get(username));
      if (is_typing) typing.set(username, setTimeout(() => { typing.delete(username); renderTyping(); }, 6000));
      else typing.delete(username);
      renderTyping();
    }),
    on("ws:read", ({ room_id, username, message_id, seq }) => {
      if (room_id !== roomId) return;
      readBy.set(username, message_id);
      updateSeen();
      heardAt(seq);
    }),
    on("ws:room", ({ room_id, event }) => {
      if (room_id !== roomId) return;
      if (event === "removed" || event === "deleted") go("#/chats");
      else loadRoom().catch(() => {});
    }),
    on("ws:reconnected", () => catchUp()), // events sent while the socket was closed are lost
  ];
  const onVisible = () => markRead();
  document.addEventListener("visibilitychange", onVisible);
  function renderTyping() {
    const names = [...typing.keys()];
    typingLine.textContent = names.length ? `${names.join(", ")} ${names.length > 1 ? "are" : "is"} typing…` : "";
  }

  try {
    await loadRoom();
    await Promise.all([loadNewest(), pins.load()]);
    loaded = true;
    list.dataset.ready = "true";
  } catch (err) {
    if (err.status === 404) replace(main, h("p", { class: "error", testid: "room-missing" }, "This chat does not exist or you are not in it."), h("a", { href: "#/chats" }, "Back to chats"));
    else roomError.textContent = describe(err);
  }
  text.focus();

  return () => {
    stopTyping();
    offs.forEach((off) => off());
    document.removeEventListener("visibilitychange", onVisible);
    for (const t of typing.values()) clearTimeout(t);
  };
}
