// What both pages share: calling our API, signing in, the stored checkout, money and dates.
// Plain ES modules, no build step: the browser loads these files as they are.

const TOKEN_KEY = "checkout.devToken";
const STATE_KEY = "checkout.state";
const REQUEST_TIMEOUT_MS = 25000;

/** The server answered with an error: `message` is the server's own words. */
export class ApiError extends Error {
  constructor(status, code, message, retryable, requestId, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryable = retryable;
    this.requestId = requestId;
    this.details = details || {};
  }
}

/** The request never got an answer (offline, DNS, server down, timeout). */
export class NetworkError extends Error {}

/** 401: the token is missing, expired or refused. */
export class AuthRequired extends Error {}

// ---------------------------------------------------------------- sign-in
let clerk = null;

/** Load the deployment's config and, when it says so, Clerk's frontend SDK. */
export async function loadConfig() {
  const config = await api("GET", "/api/config", undefined, { auth: false });
  if (config.clerkPublishableKey && config.clerkJsUrl) {
    clerk = await loadClerk(config.clerkJsUrl, config.clerkPublishableKey);
  }
  return config;
}

function loadClerk(src, publishableKey) {
  // Production: Clerk keeps the session (on its own domain) and mints a short-lived session token
  // per call; we never store it. See the README ("Signing in").
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = src;
    script.async = true;
    script.crossOrigin = "anonymous";
    script.dataset.clerkPublishableKey = publishableKey;
    script.addEventListener("load", async () => {
      try {
        await window.Clerk.load();
        resolve(window.Clerk);
      } catch (error) {
        reject(error);
      }
    });
    script.addEventListener("error", () => reject(new NetworkError("sign-in could not load")));
    document.head.appendChild(script);
  });
}

export function usesClerk() {
  return clerk !== null;
}

export async function openClerkSignIn() {
  if (clerk) await clerk.openSignIn({ forceRedirectUrl: window.location.href });
}

/** The bearer token of the signed-in user, or null. */
export async function currentToken() {
  if (clerk) {
    return clerk.session ? await clerk.session.getToken() : null;
  }
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) return null;
  const claims = tokenClaims(token);
  if (!claims || (claims.exp && claims.exp * 1000 < Date.now())) {
    sessionStorage.removeItem(TOKEN_KEY);
    return null;
  }
  return token;
}

/** Who is signed in, for the header (read from the token; the server verifies it). */
export async function currentUser() {
  if (clerk) {
    const user = clerk.user;
    return user ? { id: user.id, email: user.primaryEmailAddress?.emailAddress } : null;
  }
  const token = await currentToken();
  const claims = token && tokenClaims(token);
  return claims ? { id: claims.sub, email: claims.email } : null;
}

/** Keep a pasted development token for this tab; false when it is not a JWT at all. */
export function useDevToken(raw) {
  const token = raw.trim().replace(/^Bearer\s+/i, "");
  if (!tokenClaims(token)) return false;
  sessionStorage.setItem(TOKEN_KEY, token);
  return true;
}

/** The server refused the token: a pasted development token is dropped (Clerk renews its own). */
export function forgetRefusedToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

export async function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
  if (clerk) await clerk.signOut();
}

function tokenClaims(token) {
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  try {
    const json = atob(parts[1].replace(/-/g, "+").replace(/_/g, "/"));
    const claims = JSON.parse(json);
    return typeof claims === "object" && claims !== null ? claims : null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------- API
function newRequestId() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID().replace(/-/g, "");
  return String(Date.now()) + Math.random().toString(16).slice(2);
}

/**
 * Call our API. Resolves with the JSON body; rejects with NetworkError, AuthRequired or ApiError.
 * Never resolves on an error status: nothing downstream can mistake a failure for a success.
 */
export async function api(method, path, body, { auth = true, requestId } = {}) {
  const headers = { Accept: "application/json", "X-Request-ID": requestId || newRequestId() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (auth) {
    const token = await currentToken();
    if (!token) throw new AuthRequired("Please sign in to continue.");
    headers.Authorization = `Bearer ${token}`;
  }
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      cache: "no-store",
      credentials: "omit",
    });
  } catch (error) {
    throw new NetworkError(
      error && error.name === "TimeoutError"
        ? "The server took too long to answer."
        : "We couldn't reach the server. Check your connection.",
    );
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (response.status === 401) {
    throw new AuthRequired((data && data.error && data.error.message) || "Your sign-in has expired.");
  }
  if (!response.ok) {
    const error = (data && data.error) || {};
    throw new ApiError(
      response.status,
      error.code || `http_${response.status}`,
      error.message || `The server answered ${response.status} ${response.statusText}.`,
      error.retryable ?? response.status >= 500,
      response.headers.get("X-Request-ID") || headers["X-Request-ID"],
      error,
    );
  }
  return data;
}

// ---------------------------------------------------------------- stored checkout
/** What the user chose, kept for this tab so a cancel, a reload or a sign-in loses nothing. */
export function loadState() {
  try {
    return JSON.parse(sessionStorage.getItem(STATE_KEY) || "null");
  } catch {
    return null;
  }
}

export function saveState(state) {
  sessionStorage.setItem(STATE_KEY, JSON.stringify(state));
}

export function clearState() {
  sessionStorage.removeItem(STATE_KEY);
}

// ---------------------------------------------------------------- formatting
export function money(amount, currency) {
  try {
    return new Intl.NumberFormat(undefined, {
      style: "currency",
      currency: currency.toUpperCase(),
    }).format(amount / 100);
  } catch {
    return `${(amount / 100).toFixed(2)} ${currency.toUpperCase()}`;
  }
}

export function when(iso) {
  return new Intl.DateTimeFormat(undefined, {
    weekday: "short",
    day: "numeric",
    month: "short",
    hour: "2-digit",
    minute: "2-digit",
  }).format(new Date(iso));
}

export function clock(iso) {
  return new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" }).format(
    new Date(iso),
  );
}

/** Element helper: el("p", {class: "x"}, "text", child). Text is set as text, never as HTML. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Move keyboard and screen-reader focus to `node` (made focusable if it is not). */
export function focus(node) {
  if (!node.hasAttribute("tabindex")) node.setAttribute("tabindex", "-1");
  node.focus();
}
