// The page furniture both pages share: the account bar, the sign-in panel, the error box.

import {
  currentUser,
  el,
  focus,
  openClerkSignIn,
  signOut,
  useDevToken,
  usesClerk,
} from "./common.js";

let resumeAfterSignIn = null;
let config = { devSignIn: false };

export function setConfig(value) {
  config = value;
}

/** The "Signed in as ..." bar. */
export async function renderAccount() {
  const box = document.getElementById("account");
  const user = await currentUser();
  box.replaceChildren();
  if (user) {
    box.append(
      el("span", { class: "muted" }, "Signed in as "),
      el("strong", {}, user.email || user.id),
      el(
        "button",
        {
          type: "button",
          class: "link",
          onclick: async () => {
            await signOut();
            await renderAccount();
            showSignIn("You are signed out.");
          },
        },
        "Sign out",
      ),
    );
  } else {
    box.append(
      el("span", { class: "muted" }, "Not signed in"),
      el("button", { type: "button", class: "link", onclick: () => showSignIn("") }, "Sign in"),
    );
  }
}

/** Ask the user to sign in; `resume` runs once they did (the interrupted action). */
export function showSignIn(reason, resume = null) {
  resumeAfterSignIn = resume;
  renderAccount();
  const panel = document.getElementById("signin");
  document.getElementById("signin-reason").textContent = reason;
  const clerk = usesClerk();
  document.getElementById("dev-signin").hidden = clerk || !config.devSignIn;
  document.getElementById("clerk-signin").hidden = !clerk;
  document.getElementById("no-signin").hidden = clerk || config.devSignIn;
  panel.hidden = false;
  focus(document.getElementById("signin-title"));
}

export function hideSignIn() {
  document.getElementById("signin").hidden = true;
}

async function signedIn() {
  hideSignIn();
  await renderAccount();
  const resume = resumeAfterSignIn;
  resumeAfterSignIn = null;
  if (resume) await resume();
}

/** Wire the sign-in forms (once per page). */
export function wireSignIn() {
  const form = document.getElementById("dev-signin");
  const input = document.getElementById("dev-token");
  const problem = document.getElementById("dev-token-error");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!useDevToken(input.value)) {
      problem.textContent = "That is not a token: paste the whole output of make token.";
      problem.hidden = false;
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    problem.hidden = true;
    input.removeAttribute("aria-invalid");
    input.value = "";
    await signedIn();
  });
  document.getElementById("clerk-signin-button").addEventListener("click", openClerkSignIn);
}

/**
 * Show an error and move focus to it. `retry` (optional) re-runs what failed with what the user
 * entered untouched; `reslot` offers to pick another slot.
 */
export function showError(message, { retry = null, reslot = null, requestId = null } = {}) {
  const box = document.getElementById("error");
  document.getElementById("error-message").textContent = message;
  const reference = document.getElementById("error-reference");
  reference.hidden = !requestId;
  reference.textContent = requestId ? `Reference: ${requestId}` : "";
  bind("error-retry", retry);
  bind("error-reslot", reslot);
  box.hidden = false;
  focus(box);
}

export function hideError() {
  document.getElementById("error").hidden = true;
}

function bind(id, action) {
  const button = document.getElementById(id);
  button.hidden = !action;
  button.onclick = action
    ? async () => {
        hideError();
        await action();
      }
    : null;
}

export function wireErrorBox() {
  document.getElementById("error-dismiss").addEventListener("click", hideError);
}

export function showNotice(message, { moveFocus = true } = {}) {
  const box = document.getElementById("notice");
  box.textContent = message;
  box.hidden = !message;
  if (message && moveFocus) focus(box);
}
