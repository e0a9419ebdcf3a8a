// The consent window's page (opened by background/consent.js): which site asks, for what, with which key;
// then "touch your key", the PIN, a wrong PIN with the tries left, or why the request failed.
//
// Input protection: a click or key press that began anywhere else never confirms. The buttons stay
// disabled until the window has been visible and focused for ARM_MS (re-armed after it loses the focus);
// no button has the focus at first, so Enter or Space typed into the window after it popped up does
// nothing; a mouse click counts only when its pointerdown was on that same button after arming, and a
// keyboard activation only when the user moved the focus to the button after arming (Tab) and pressed
// Enter or Space there. Escape always cancels (the safe answer).
import { api } from "../common/api.js";
import { localize, t } from "../common/i18n.js";

const ARM_MS = 500;
const $ = (id) => document.getElementById(id);
const ACTIONS = {
  "webauthn.create": ["prompt_create", "prompt_register_button"],
  "webauthn.get": ["prompt_get", "prompt_sign_in_button"],
  "u2f.register": ["prompt_u2f_register", "prompt_register_button"],
  "u2f.sign": ["prompt_u2f_sign", "prompt_sign_in_button"],
};
const TRANSPORTS = { usb: "prompt_transport_usb", nfc: "prompt_transport_nfc", ble: "prompt_transport_ble" };
// Failures shown after the page got its error (the host's codes; docs/protocol.md).
const ENDED = {
  fido_pin_blocked: "prompt_pin_blocked",
  fido_pin_auth_blocked: "prompt_pin_auth_blocked",
  fido_no_credential: "prompt_no_credential",
  fido_credential_excluded: "prompt_excluded",
  fido_device_removed: "prompt_removed",
  fido_timeout: "prompt_timed_out",
  fido_no_device: "prompt_no_key_found",
  fido_pin_required: "prompt_pin_required",
};

localize();
// body[data-state]: loading → asking → armed → running → pin → ended (for the user's assistive tech and for
// tests; this page is the extension's own, never the tracker's).
const setState = (state) => {
  document.body.dataset.state = state;
};
setState("loading");
const port = api.runtime.connect({ name: "tracker2fa-consent" });
let armedAt = null; // performance.now() when the buttons were armed; null while disarmed
let armTimer = null;
let pressed = null; // {button, at}: the last trusted pointerdown on a button
let focusedAfterArming = null; // the button the user moved the focus to after arming
let asking = false; // the request details have arrived and no answer was given yet
let running = false;

// Cancel is never guarded: it is the safe answer, always available (as Escape is).
const guardedButtons = () => [$("confirm"), $("browser")];

function setArmed(on) {
  clearTimeout(armTimer);
  armedAt = null;
  focusedAfterArming = null;
  for (const b of guardedButtons()) b.disabled = true;
  if (asking) setState("asking");
  if (!on) return;
  armTimer = setTimeout(() => {
    if (!asking || document.visibilityState !== "visible" || !document.hasFocus()) return;
    armedAt = performance.now();
    for (const b of guardedButtons()) b.disabled = false;
    setState("armed");
  }, ARM_MS);
}

const rearm = () => setArmed(asking && document.visibilityState === "visible" && document.hasFocus());
addEventListener("focus", rearm);
addEventListener("blur", () => setArmed(false));
document.addEventListener("visibilitychange", rearm);

document.addEventListener("pointerdown", (event) => {
  const button = event.target.closest?.("button");
  pressed = event.isTrusted && armedAt !== null && button ? { button, at: event.timeStamp } : null;
}, true);
document.addEventListener("focusin", (event) => {
  focusedAfterArming = armedAt !== null && event.target instanceof HTMLButtonElement ? event.target : null;
}, true);
let keyOnButton = null;
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && event.isTrusted) {
    event.preventDefault();
    answer("cancel");
    return;
  }
  keyOnButton = event.isTrusted && armedAt !== null && (event.key === "Enter" || event.key === " ") &&
    event.target === focusedAfterArming ? event.target : null;
}, true);

/** True when `event` (a click on `button`) is the user's own act inside this window, after arming. */
function deliberate(event, button) {
  if (!event.isTrusted || armedAt === null || button.disabled) return false;
  if (event.detail > 0) return pressed?.button === button && pressed.at >= armedAt; // a mouse click
  return keyOnButton === button; // Enter or Space on a button the user tabbed to
}

function answer(type, extra = {}) {
  if (!asking) {
    if (type === "cancel" && !$("ended").hidden) window.close();
    else if (type === "cancel" && running) port.postMessage({ type: "cancel" });
    return;
  }
  asking = false;
  setArmed(false);
  $("choices").hidden = type !== "confirm";
  for (const b of guardedButtons()) b.hidden = true;
  $("attestation").hidden = true;
  if (type === "confirm") {
    running = true;
    setState("running");
    $("status").textContent = t("prompt_asking");
  }
  port.postMessage({ type, ...extra });
}

for (const [id, type] of [["confirm", "confirm"], ["browser", "browser"]]) {
  $(id).addEventListener("click", (event) => {
    if (deliberate(event, $(id))) answer(type, type === "confirm" ? { allowAttestation: $("allow-attestation").checked } : {});
  });
}
$("cancel").addEventListener("click", (event) => event.isTrusted && answer("cancel"));
$("close").addEventListener("click", () => window.close());

function keyLine(keys) {
  if (keys.length === 0) return t("prompt_no_key");
  // A key is named with its transport; the virtual test key by what it is, in the UI's language.
  const names = keys.map((k) => {
    if (k.virtual) return t("prompt_virtual_key");
    return TRANSPORTS[k.transport] ? `${k.name} (${t(TRANSPORTS[k.transport])})` : k.name;
  });
  return keys.length === 1 ? t("prompt_one_key", names[0]) : t("prompt_many_keys", names.join(", "));
}

function show(details) {
  const origin = new URL(details.origin);
  $("site").textContent = origin.protocol === "https:" ? origin.host : origin.origin;
  document.title = `${t("prompt_label")}: ${$("site").textContent}`;
  const [action, button] = ACTIONS[details.kind] ?? ["prompt_other", "prompt_continue"];
  $("action").textContent = details.rpId && details.rpId !== origin.hostname ? t("prompt_for_rp", t(action), details.rpId) : t(action);
  $("confirm").textContent = t(button);
  if (details.topOrigin) {
    $("frame").textContent = t("prompt_in_frame", new URL(details.topOrigin).host);
    $("frame").hidden = false;
  }
  $("keys").textContent = keyLine(details.keys);
  $("keys").classList.toggle("warn", details.keys.some((k) => k.virtual));
  $("auto-confirm").hidden = !details.autoConfirmConfigured;
  $("attestation").hidden = !details.attestation;
  $("browser").hidden = !details.allowBrowser;
  asking = true;
  $("dialog").focus(); // the dialog, not a button: a key typed before the user looks here does nothing
  rearm();
  // When the request was first on screen (wall clock, comparable across processes): bench/fido_page_bench.py.
  requestAnimationFrame(() => {
    document.body.dataset.shownAt = String(performance.timeOrigin + performance.now());
  });
}

function hostEvent(msg) {
  const name = typeof msg.deviceName === "string" && msg.deviceName ? msg.deviceName : null;
  const say = (plain, named) => (name ? t(named, name) : t(plain));
  $("status").classList.remove("problem");
  if (msg.event === "fido.touch") $("status").textContent = say("prompt_touch", "prompt_touch_named");
  else if (msg.event === "fido.selected") $("status").textContent = say("prompt_using", "prompt_using_named");
  else if (msg.event === "fido.key_removed") $("status").textContent = say("prompt_removed", "prompt_removed_named");
  else if (msg.event === "fido.key_busy") $("status").textContent = t("prompt_key_busy");
  else if (msg.event === "fido.pin_needed") askPin(msg);
}

function askPin(msg) {
  let problem = msg.problem ?? "";
  if (msg.wrongPin) problem = Number.isInteger(msg.retries) ? t("prompt_wrong_pin_tries", String(msg.retries)) : t("prompt_wrong_pin");
  $("status").textContent = problem;
  $("status").classList.toggle("problem", problem !== "");
  $("pin-form").hidden = false;
  setState("pin");
  $("pin").value = "";
  $("pin").focus();
}

function sendPin(pin) {
  $("pin-form").hidden = true;
  setState("running");
  $("status").classList.remove("problem");
  $("status").textContent = pin === null ? "" : t("prompt_pin_checking");
  port.postMessage({ type: "pin", pin });
}

$("pin-form").addEventListener("submit", (event) => {
  event.preventDefault();
  if (event.isTrusted !== false) sendPin($("pin").value);
});
$("pin-decline").addEventListener("click", (event) => event.isTrusted && sendPin(null));

port.onMessage.addListener((msg) => {
  if (msg?.type === "request") show(msg.details);
  else if (msg?.type === "event") hostEvent(msg);
  else if (msg?.type === "ended") {
    running = false;
    asking = false;
    setState("ended");
    $("pin-form").hidden = true;
    $("choices").hidden = true;
    $("ended").hidden = false;
    $("status").classList.add("problem");
    $("status").textContent = ENDED[msg.code] ? t(ENDED[msg.code]) : String(msg.message ?? "");
    $("close").focus();
  }
});
port.onDisconnect.addListener(() => window.close());
