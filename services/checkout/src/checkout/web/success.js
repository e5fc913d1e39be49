// Stripe's success_url: a redirect here proves nothing. What counts is what the reservation
// service says once Stripe's webhook reached it, so this page polls until it says so.

import {
  ApiError,
  AuthRequired,
  NetworkError,
  api,
  clearState,
  clock,
  forgetRefusedToken,
  el,
  focus,
  loadConfig,
  money,
  when,
} from "./common.js";
import {
  renderAccount,
  setConfig,
  showError,
  showNotice,
  showSignIn,
  wireErrorBox,
  wireSignIn,
} from "./ui.js";

const $ = (id) => document.getElementById(id);
const FAST_POLL_MS = 1000;
const SLOW_POLL_MS = 5000;
const SLOW_AFTER_MS = 30000;
const PATIENCE_MS = 120000;

const VIEWS = {
  checking: ["Checking", "Checking your payment…", "We are asking Stripe and our booking system what happened."],
  confirming: ["Confirming", "Payment received, confirming…", "Stripe has your payment; we are confirming your booking. This takes a few seconds."],
  processing: ["Processing", "Your payment is processing", "Your payment method takes a while to clear. We will confirm your booking as soon as your bank does, and e-mail you."],
  confirmed: ["Confirmed", "Your booking is confirmed", "Thank you! Your payment went through and the slot is yours. A confirmation is on its way to your inbox."],
  paid: ["Paid", "Payment received", "Thank you! Your beats are yours; a receipt is on its way to your inbox."],
  failed: ["Failed", "The payment did not go through", "Nothing was charged. You can try again while your slot is held."],
  review: ["Under review", "Payment received, under review", "The amount paid differs from our price; our team will check it and contact you."],
  refunded: ["Refunded", "Your payment was refunded", "The slot was taken before your payment arrived, so we refunded it in full."],
  ended: ["Ended", "This checkout has ended", "The checkout expired before it was paid. Nothing was charged."],
  waiting: ["Processing", "Still confirming…", "This is taking longer than usual. You can leave this page: we e-mail you the moment your booking is confirmed."],
};
const FINAL = new Set(["confirmed", "paid", "failed", "review", "refunded", "ended"]);

let started = Date.now();
let beatsById = new Map();
let lastView = null;
let timer = null;

/** The page's verdict: "confirmed" only on the reservation service's word. */
function verdict(session, reservations) {
  const statuses = reservations.map((r) => r.status);
  if (!reservations.length) {
    // Beats only: no reservation to ask, Stripe's word on the session is the truth we have.
    if (session.paymentStatus === "paid") return "paid";
    if (session.status === "expired") return "ended";
    return session.status === "complete" ? "processing" : "checking";
  }
  if (statuses.every((s) => s === "succeeded")) return "confirmed";
  if (statuses.includes("refunded")) return "refunded";
  if (statuses.includes("needs_review")) return "review";
  if (statuses.includes("failed")) return "failed";
  if (statuses.some((s) => s === "expired" || s === "cancelled")) return "ended";
  if (session.status === "expired") return "ended";
  if (session.status === "complete" && session.paymentStatus !== "paid") return "processing";
  if (session.paymentStatus === "paid") return "confirming";
  return "checking";
}

function render(view, session, reservations) {
  const [badge, title, text] = VIEWS[view];
  const box = $("outcome");
  box.dataset.state = view;
  $("outcome-badge").textContent = badge;
  $("outcome-title").textContent = title;
  $("outcome-text").textContent = text;
  const items = reservations.map((r) =>
    el(
      "li",
      {},
      el("span", {}, `${r.service_name} · ${when(r.starts_at)}–${clock(r.ends_at)} · ref ${r.reference}`),
      el("span", {}, money(r.amount, r.currency)),
    ),
  );
  for (const id of session ? session.cartItemIds : []) {
    const beat = beatsById.get(id);
    items.push(
      el(
        "li",
        {},
        el("span", {}, beat ? `Beat: ${beat.title}` : `Beat ${id}`),
        el("span", {}, beat ? money(beat.price, beat.currency) : ""),
      ),
    );
  }
  $("outcome-items").replaceChildren(...items);
  const total = $("outcome-total");
  total.hidden = !session;
  if (session) {
    total.replaceChildren(
      el("span", {}, view === "confirmed" || view === "paid" ? "Paid" : "Total"),
      el("strong", {}, money(session.orderTotal, session.currency)),
    );
  }
  const actions = $("outcome-actions");
  actions.replaceChildren();
  if (view === "failed") {
    actions.append(el("a", { class: "button primary", href: "/checkout" }, "Try again"));
  } else if (FINAL.has(view)) {
    actions.append(el("a", { class: "button secondary", href: "/checkout" }, "Book another session"));
  }
  if (view !== lastView && FINAL.has(view)) focus($("outcome-title"));
  lastView = view;
}

async function check(sessionId) {
  const session = await api("GET", `/api/checkout-sessions/${encodeURIComponent(sessionId)}`);
  const reservations = await Promise.all(
    session.reservationIds.map((id) =>
      api("GET", `/api/studio/reservations/${encodeURIComponent(id)}`),
    ),
  );
  return { session, reservations };
}

async function poll(sessionId) {
  timer = null;
  let view;
  try {
    const { session, reservations } = await check(sessionId);
    view = verdict(session, reservations);
    if (!FINAL.has(view) && Date.now() - started > PATIENCE_MS) view = "waiting";
    render(view, session, reservations);
    showNotice("", { moveFocus: false });
    if (view === "confirmed" || view === "paid") clearState(); // done: nothing to resume
  } catch (error) {
    if (error instanceof AuthRequired) {
    forgetRefusedToken();
      showSignIn("Please sign in again to see your payment.", () => poll(sessionId));
      return;
    }
    if (error instanceof ApiError && !error.retryable) {
      const message =
        error.status === 404 ? "We could not find this checkout for your account." : error.message;
      showError(message, { requestId: error.requestId });
      return;
    }
    // A network blip or a retryable error: say so, keep the last known state, keep asking.
    const reason = error instanceof NetworkError ? error.message : error.message || "";
    showNotice(`${reason} Still checking…`, { moveFocus: false });
  }
  if (view && FINAL.has(view)) return;
  const delay = Date.now() - started > SLOW_AFTER_MS ? SLOW_POLL_MS : FAST_POLL_MS;
  timer = setTimeout(() => poll(sessionId), delay);
}

async function start() {
  wireErrorBox();
  wireSignIn();
  const sessionId = new URLSearchParams(window.location.search).get("session_id");
  render("checking", null, []);
  try {
    setConfig(await loadConfig());
  } catch (error) {
    showError(`${error.message} Reload the page to try again.`);
    return;
  }
  await renderAccount();
  try {
    const beats = await api("GET", "/api/beats", undefined, { auth: false });
    beatsById = new Map(beats.map((b) => [b.id, b]));
  } catch {
    // Only the beats' names are missing: the payment's status matters more, carry on.
  }
  if (!sessionId) {
    showError("This page needs the checkout session it came from (session_id is missing).");
    return;
  }
  started = Date.now();
  if (timer) clearTimeout(timer);
  await poll(sessionId);
}

start();
