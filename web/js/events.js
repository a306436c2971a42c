// A tiny in-page event bus: the API and the socket announce things (session ended, API down,
// server events), the views listen. Listeners registered by a view are dropped when it leaves.

const listeners = new Map();

export function on(name, fn) {
  if (!listeners.has(name)) listeners.set(name, new Set());
  listeners.get(name).add(fn);
  return () => listeners.get(name)?.delete(fn);
}

export function emit(name, value) {
  for (const fn of [...(listeners.get(name) || [])]) {
    try { fn(value); } catch (e) { console.error(e); }
  }
}
