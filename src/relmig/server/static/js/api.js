// The REST client: JSON in and out, errors as ApiError. The token lives in an HttpOnly cookie
// the server sets at sign-in: no script of the page can read it.

const BASE = "/api/v1";

export class ApiError extends Error {
  constructor(status, body) {
    super(typeof body.detail === "string" ? body.detail : `request failed (HTTP ${status})`);
    this.status = status;
    this.problems = body.problems || [];
  }
}

export const session = {
  rejected: false,  // the last sign-in's token was refused
  async signIn(token) {
    const res = await fetch(`${BASE}/login`, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ token }),
    });
    session.rejected = !res.ok;
    return res.ok;
  },
  async signOut() {
    await fetch(`${BASE}/logout`, { method: "POST" });
  },
};

async function request(method, path, body, raw = false) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(BASE + path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 401) window.dispatchEvent(new CustomEvent("relmig:login"));
  if (res.status === 204) return null;
  const json = (res.headers.get("content-type") || "").includes("json");
  if (!res.ok) throw new ApiError(res.status, json ? await res.json() : { detail: await res.text() });
  if (raw) return res;
  return json ? res.json() : res.text();
}

export const api = {
  get: (path) => request("GET", path),
  post: (path, body = {}) => request("POST", path, body),
  put: (path, body) => request("PUT", path, body),
  patch: (path, body) => request("PATCH", path, body),
  del: (path) => request("DELETE", path),
  /** Fetch a file (signed in) and hand it to the browser as a download. */
  async download(path, fallbackName) {
    const res = await request("GET", path, undefined, true);
    const match = /filename="([^"]+)"/.exec(res.headers.get("content-disposition") || "");
    const url = URL.createObjectURL(await res.blob());
    const a = Object.assign(document.createElement("a"), { href: url, download: match ? match[1] : fallbackName });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  },
};
