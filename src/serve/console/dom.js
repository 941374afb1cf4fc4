// Small DOM helpers: `h(tag, attributes, ...children)` builds an element (attributes
// starting with `on` are listeners; `null`/`false` children are skipped), and `modal`
// shows content in the page's one <dialog>.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

/** A labelled control: <label>text <control></label>. */
export function field(label, control) {
  return h('label', { class: 'field' }, h('span', {}, label), control);
}

let shown = 0; // which modal the dialog holds: an older one's close does nothing

/** Shows a title and body in the page's dialog (replacing what it held); answers a
 * function that closes it. */
export function modal(title, body) {
  const dialog = document.getElementById('dialog');
  const mine = ++shown;
  dialog.replaceChildren(h('h2', { id: 'dialog-title' }, title), body);
  dialog.onclose = () => dialog.replaceChildren();
  if (!dialog.open) dialog.showModal();
  return () => { if (mine === shown && dialog.open) dialog.close(); };
}

/** A status line that reads out to screen readers. */
export function status(text, kind = 'info') {
  return h('p', { class: `status ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
}
