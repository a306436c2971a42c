// Reactions under a message: a chip per emoji with its count (pressed when it is mine), a
// button that opens the picker of the twelve the server takes, and the live changes from the
// `reaction` event. A chip click puts it on or takes it off; the server's answer is the truth.

import { h, replace } from "../dom.js";

/** The server's set (docs/CHAT.md, "Reactions"), in the order it lists counts. */
export const EMOJI = ["👍", "👎", "❤️", "😂", "😮", "😢", "🙏", "🎉", "🔥", "👀", "✅", "💯"];

/**
 * The reaction row of message `m`. `toggle(emoji, on)` sends the change and resolves with the
 * server's `{reactions}` (or throws); the row redraws from it.
 */
export function reactionRow(m, toggle) {
  const state = new Map((m.reactions || []).map((r) => [r.emoji, { count: r.count, mine: r.mine }]));
  const chips = h("span", { class: "chips" });
  const picker = h("span", { class: "picker", testid: "reaction-picker", hidden: true },
    EMOJI.map((e) => h("button", { type: "button", class: "pick", testid: "pick-reaction", "data-emoji": e, "aria-label": `React with ${e}`, onclick: () => { picker.hidden = true; row.opener.setAttribute("aria-expanded", "false"); send(e, !state.get(e)?.mine); } }, e)));
  const row = h("div", { class: "reactions", testid: "reactions" }, chips, picker);
  /** The "React" link, for the message's action line: opens and closes the picker. */
  row.opener = h("button", { type: "button", class: "link", testid: "add-reaction", "aria-label": "Add a reaction", "aria-expanded": "false", onclick: () => {
    picker.hidden = !picker.hidden;
    row.opener.setAttribute("aria-expanded", String(!picker.hidden));
    row.hidden = picker.hidden && !chips.childElementCount;
  } }, "React");

  function draw() {
    replace(chips, EMOJI.filter((e) => state.get(e)?.count > 0).map((e) => {
      const { count, mine } = state.get(e);
      return h("button", { type: "button", class: `chip${mine ? " mine" : ""}`, testid: "reaction", "data-emoji": e, "data-count": count, "aria-pressed": mine ? "true" : "false", "aria-label": `${e} ${count}${mine ? ", yours" : ""}`, onclick: () => send(e, !mine) }, `${e} ${count}`);
    }));
    row.hidden = picker.hidden && !chips.childElementCount; // no empty line under every message
  }

  async function send(emoji, on) {
    const answer = await toggle(emoji, on);
    if (!answer) return;
    state.clear();
    for (const r of answer.reactions) state.set(r.emoji, { count: r.count, mine: r.mine });
    draw();
  }

  /** A `reaction` event. One of mine (another tab, or the echo of this one) only moves the
   * count when it changes what this row believes is mine, so an echo never counts twice. */
  row.heard = ({ emoji, username, added }, me) => {
    const now = state.get(emoji) || { count: 0, mine: false };
    if (username === me) {
      if (now.mine === added) return;
      now.mine = added;
    }
    now.count = Math.max(0, now.count + (added ? 1 : -1));
    state.set(emoji, now);
    draw();
  };

  draw();
  return row;
}
