// serve.md's HTTP API as the console uses it: the key (kept in sessionStorage, for the
// browser session only) goes with every request; an answer that is not 2xx throws an
// ApiError carrying the API's error body (kind, message, span, help).

export class ApiError extends Error {
  constructor(status, body) {
    const detail = (body && body.error) || {};
    super(detail.message || `HTTP ${status}`);
    this.status = status;
    this.kind = detail.kind || 'http';
    this.span = detail.span || null;
    this.help = detail.help || null;
  }
}

const KEY = 'reach.key';
export const key = {
  get: () => sessionStorage.getItem(KEY) || '',
  set: (value) => sessionStorage.setItem(KEY, value),
  clear: () => sessionStorage.removeItem(KEY),
};

/** One request; `body` is JSON unless `type` says otherwise; answers JSON or text. */
export async function call(method, path, body, { signal, type = 'application/json', as = 'json' } = {}) {
  const headers = {};
  const k = key.get();
  if (k) headers.Authorization = `Bearer ${k}`;
  let payload;
  if (body !== undefined) {
    headers['Content-Type'] = type;
    payload = type === 'application/json' ? JSON.stringify(body) : body;
  }
  const response = await fetch(path, { method, headers, body: payload, signal });
  if (!response.ok) {
    let error = null;
    try { error = await response.json(); } catch { /* not JSON */ }
    throw new ApiError(response.status, error);
  }
  if (as === 'text') return response.text();
  if (as === 'blob') return response.blob();
  return response.json();
}

/** Sends changes (changes.md) as JSON Lines; answers the acknowledgements, throwing the first refusal. */
export async function changes(lines) {
  const text = await call('POST', '/changes', lines.map((l) => JSON.stringify(l)).join('\n') + '\n',
    { type: 'application/x-ndjson', as: 'text' });
  const acks = text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const refused = acks.find((a) => !a.ok);
  if (refused) throw new ApiError(400, { error: { kind: 'change', message: refused.error } });
  if (acks.length !== lines.length) throw new ApiError(500, { error: { kind: 'change', message: 'missing acknowledgements' } });
  return acks.reduce((n, a) => n + (a.changed || 0), 0);
}
