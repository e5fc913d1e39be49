// The checkout page: choose a service, a slot and beats, see the server's total, pay at Stripe.

import {
  ApiError,
  AuthRequired,
  NetworkError,
  api,
  clock,
  forgetRefusedToken,
  currentToken,
  el,
  loadConfig,
  loadState,
  money,
  saveState,
  when,
} from "./common.js";
import {
  hideError,
  hideSignIn,
  renderAccount,
  setConfig,
  showError,
  showNotice,
  showSignIn,
  wireErrorBox,
  wireSignIn,
} from "./ui.js";

const CREATE_SESSION = "/api/clerk/create-checkout-session";
const FIRST_HOUR = 9;
const LAST_HOUR = 20;
// Codes that mean "this hold can't be paid any more": the way out is another slot.
const RESLOT_CODES = new Set(["not_payable", "reservation_not_found", "slot_taken"]);

const $ = (id) => document.getElementById(id);

const state = {
  services: [],
  beats: [],
  reservation: null, // the held reservation, as the reservation service answered it
  beatIds: new Set(),
  draft: {}, // the slot being chosen: serviceId, date, time
  quote: null,
  quoteSeq: 0,
  holding: false,
  paying: false,
};

function persist() {
  saveState({
    reservation: state.reservation,
    beatIds: [...state.beatIds],
    draft: state.draft,
  });
}

// ---------------------------------------------------------------- errors
/** Run `action`; any failure is shown with a way forward, and nothing pretends to succeed. */
async function attempt(action) {
  hideError();
  try {
    await action();
  } catch (error) {
    report(error, () => attempt(action));
  }
}

function report(error, retry) {
  if (error instanceof AuthRequired) {
    forgetRefusedToken();
    const reason = (error.message || "").toLowerCase().includes("sign in")
      ? error.message
      : "Your sign-in has expired or is not valid any more. Please sign in again; your choices are kept.";
    showSignIn(reason, retry);
    return;
  }
  if (error instanceof NetworkError) {
    showError(`${error.message} Nothing was charged; your choices are kept.`, { retry });
    return;
  }
  if (error instanceof ApiError) {
    const reslot = RESLOT_CODES.has(error.code) && state.reservation ? forgetSlot : null;
    showError(error.message, {
      retry: error.retryable ? retry : null,
      reslot,
      requestId: error.requestId,
    });
    return;
  }
  console.error(error);
  showError(`Something went wrong on this page (${error.message}).`, { retry });
}

// ---------------------------------------------------------------- catalog
async function loadCatalog() {
  const [services, beats] = await Promise.all([
    api("GET", "/api/studio/services", undefined, { auth: false }),
    api("GET", "/api/beats", undefined, { auth: false }),
  ]);
  state.services = services;
  state.beats = beats;
  renderServices();
  renderBeats();
}

function renderServices() {
  const box = $("services");
  box.replaceChildren();
  const chosen = state.draft.serviceId || (state.services[0] && state.services[0].id);
  for (const service of state.services) {
    const id = `service-${service.id}`;
    const hours = service.duration_minutes / 60;
    const length = Number.isInteger(hours) ? `${hours} h` : `${service.duration_minutes} min`;
    box.append(
      el(
        "div",
        { class: "option" },
        el("input", {
          type: "radio",
          name: "service",
          id,
          value: service.id,
          checked: service.id === chosen,
          onchange: () => {
            state.draft.serviceId = service.id;
            persist();
          },
        }),
        el(
          "label",
          { for: id },
          el("span", { class: "option-name" }, service.name),
          el("span", { class: "option-meta" }, length),
          el("span", { class: "option-price" }, money(service.price, service.currency)),
        ),
      ),
    );
  }
  if (!state.services.length) box.append(el("p", { class: "muted" }, "No services can be booked."));
  state.draft.serviceId = chosen;
}

function renderBeats() {
  const box = $("beats");
  box.replaceChildren();
  for (const beat of state.beats) {
    const id = `beat-${beat.id}`;
    box.append(
      el(
        "div",
        { class: "option" },
        el("input", {
          type: "checkbox",
          id,
          value: beat.id,
          checked: state.beatIds.has(beat.id),
          onchange: (event) => {
            if (event.target.checked) state.beatIds.add(beat.id);
            else state.beatIds.delete(beat.id);
            persist();
            attempt(requote);
          },
        }),
        el(
          "label",
          { for: id },
          el("span", { class: "option-name" }, beat.title),
          el("span", { class: "option-meta" }, "Beat licence"),
          el("span", { class: "option-price" }, money(beat.price, beat.currency)),
        ),
      ),
    );
  }
  if (!state.beats.length) box.append(el("p", { class: "muted" }, "No beats on sale right now."));
}

function renderSlotPicker() {
  const date = $("date");
  const today = new Date();
  const iso = (d) =>
    `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
  const tomorrow = new Date(today.getTime() + 24 * 3600 * 1000);
  date.min = iso(today);
  date.value = state.draft.date || iso(tomorrow);
  const time = $("time");
  time.replaceChildren();
  for (let hour = FIRST_HOUR; hour <= LAST_HOUR; hour++) {
    const value = `${String(hour).padStart(2, "0")}:00`;
    time.append(el("option", { value, selected: value === (state.draft.time || "14:00") }, value));
  }
  date.addEventListener("change", () => {
    state.draft.date = date.value;
    persist();
  });
  time.addEventListener("change", () => {
    state.draft.time = time.value;
    persist();
  });
}

// ---------------------------------------------------------------- the slot
async function holdSlot() {
  if (state.holding) return;
  const serviceId = document.querySelector("input[name=service]:checked")?.value;
  const date = $("date").value;
  const time = $("time").value;
  const startsAt = date && time ? new Date(`${date}T${time}:00`) : null;
  if (!serviceId || !startsAt || Number.isNaN(startsAt.getTime())) {
    showError("Choose a service, a date and a start time.");
    return;
  }
  if (startsAt <= new Date()) {
    showError("That time has passed: choose a later date or time.");
    $("date").focus();
    return;
  }
  state.draft = { serviceId, date, time };
  persist();
  if (!(await currentToken())) {
    showSignIn("Sign in to hold a slot. Your choices are kept.", () => attempt(holdSlot));
    return;
  }
  state.holding = true;
  setBusy($("hold"), true, "Holding…");
  try {
    state.reservation = await api("POST", "/api/studio/reservations", {
      serviceId,
      startsAt: startsAt.toISOString(),
    });
    persist();
    renderHeld();
    await requote();
  } finally {
    state.holding = false;
    setBusy($("hold"), false, "Hold this slot");
  }
}

function renderHeld() {
  const held = Boolean(state.reservation);
  $("slot-form").hidden = held;
  $("held").hidden = !held;
  if (held) {
    const r = state.reservation;
    $("held-title").textContent = `${r.service_name} · ${when(r.starts_at)}–${clock(r.ends_at)}`;
    $("held-detail").textContent = `Held for you until ${clock(r.hold_expires_at)} · ref ${r.reference}`;
  }
}

async function forgetSlot() {
  const held = state.reservation;
  state.reservation = null;
  persist();
  renderHeld();
  if (held) {
    try {
      // Free the slot for others; a hold in an open checkout can't be released and just lapses.
      await api("DELETE", `/api/studio/reservations/${encodeURIComponent(held.id)}`);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
    }
  }
  await requote();
  $("slot-title").scrollIntoView({ block: "nearest" });
  document.querySelector("input[name=service]:checked")?.focus();
}

/** Bring back a hold kept from before (a cancel at Stripe, a reload) if it can still be paid. */
async function refreshHeld() {
  if (!state.reservation || !(await currentToken())) return;
  const id = encodeURIComponent(state.reservation.id);
  try {
    state.reservation = await api("GET", `/api/studio/reservations/${id}`);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      state.reservation = null;
      persist();
      return;
    }
    throw error;
  }
  const status = state.reservation.status;
  if (status === "succeeded" || status === "needs_review") {
    showNotice("That reservation is already paid. Choose a new slot to book another session.");
    state.reservation = null;
  } else if (!["pending", "processing", "failed"].includes(status)) {
    showNotice("Your earlier hold has ended. Choose a slot again.");
    state.reservation = null;
  }
  persist();
}

// ---------------------------------------------------------------- total and payment
function order() {
  return {
    reservationIds: state.reservation ? [state.reservation.id] : [],
    cartItemIds: [...state.beatIds],
  };
}

async function requote() {
  const body = order();
  const seq = ++state.quoteSeq;
  state.quote = null;
  renderQuote();
  if (!body.reservationIds.length && !body.cartItemIds.length) return;
  if (!(await currentToken())) {
    showSignIn("Sign in to see your total. Your choices are kept.", () => attempt(requote));
    return;
  }
  $("quote").setAttribute("aria-busy", "true");
  try {
    const quote = await api("POST", "/api/checkout/quote", body);
    if (seq === state.quoteSeq) {
      state.quote = quote;
      renderQuote();
    }
  } finally {
    if (seq === state.quoteSeq) $("quote").setAttribute("aria-busy", "false");
  }
}

function renderQuote() {
  const box = $("quote");
  const quote = state.quote;
  box.replaceChildren();
  const empty = !state.reservation && !state.beatIds.size;
  if (!quote) {
    box.append(
      el(
        "p",
        { class: "muted" },
        empty ? "Hold a slot or pick a beat to see your total." : "Computing your total…",
      ),
    );
  } else {
    const rows = quote.lines.map((line) =>
      el("li", {}, el("span", {}, line.name), el("span", {}, money(line.amount, line.currency))),
    );
    box.append(
      el("ul", { class: "lines" }, rows),
      el(
        "p",
        { class: "total" },
        el("span", {}, "Total"),
        el("strong", { id: "total-amount" }, money(quote.orderTotal, quote.currency)),
      ),
    );
  }
  $("pay").disabled = !quote || state.paying;
}

function setBusy(button, busy, label) {
  button.disabled = busy;
  button.setAttribute("aria-busy", String(busy));
  button.classList.toggle("busy", busy);
  const text = button.querySelector(".label") || button;
  text.textContent = label;
}

async function pay() {
  // Set before any await: a second click in the same tick finds it already set.
  if (state.paying || !state.quote) return;
  state.paying = true;
  setBusy($("pay"), true, "Redirecting to secure payment…");
  hideError();
  try {
    const session = await api("POST", CREATE_SESSION, order());
    saveState({ ...loadState(), sessionId: session.sessionId });
    window.location.assign(session.url);
  } catch (error) {
    state.paying = false;
    setBusy($("pay"), false, "Complete payment");
    $("pay").disabled = !state.quote;
    report(error, pay);
  }
}

// ---------------------------------------------------------------- start
function wire() {
  wireErrorBox();
  wireSignIn();
  $("slot-form").addEventListener("submit", (event) => {
    event.preventDefault();
    attempt(holdSlot);
  });
  $("change-slot").addEventListener("click", () => attempt(forgetSlot));
  $("pay").addEventListener("click", pay);
  // Back from Stripe through the browser's cache: the page is as we left it, busy. Reset it.
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) {
      state.paying = false;
      setBusy($("pay"), false, "Complete payment");
      renderQuote();
    }
  });
}

async function start() {
  wire();
  const stored = loadState();
  if (stored) {
    state.reservation = stored.reservation || null;
    state.beatIds = new Set(stored.beatIds || []);
    state.draft = stored.draft || {};
  }
  const params = new URLSearchParams(window.location.search);
  if (params.has("cancelled")) {
    showNotice(
      "Payment cancelled: nothing was charged. Your selection is kept below; you can try again.",
    );
    // A reload should not announce the cancellation again.
    window.history.replaceState(null, "", window.location.pathname);
  }
  renderSlotPicker();
  renderHeld();
  try {
    setConfig(await loadConfig());
  } catch (error) {
    report(error, () => window.location.reload());
    return;
  }
  await renderAccount();
  await attempt(async () => {
    await loadCatalog();
    if (!(await currentToken())) {
      showSignIn("Sign in to book a session.", async () => {
        hideSignIn();
        await attempt(refreshHeld);
        renderHeld();
        await attempt(requote);
      });
      return;
    }
    await refreshHeld();
    renderHeld();
    await requote();
  });
}

start();
