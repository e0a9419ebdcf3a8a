// Host error codes (native_host/errors.py plus the protocol's own) turned into sentences for people.
// Every message says what happened and what to do next. The browser shows them in its UI language from
// _locales/*/messages.json (key `err_<code>`); the English below is the same text, for contexts without
// chrome.i18n (Node tests), and tests/e2e_extension/test_i18n.py keeps the two equal.
import "./origin_policy.js";

const MESSAGES = {
  host_not_installed:
    "The tracker2fa native host is not installed for this browser. Fix: run `tracker2fa install` in a terminal " +
    "(or `tracker2fa install --browser firefox`), then reopen this window.",
  host_forbidden:
    "The tracker2fa native host is installed, but not for this extension. Fix: run `tracker2fa install` again.",
  host_exited: "The tracker2fa native host stopped unexpectedly. It is restarted on the next request; if this keeps happening run `tracker2fa doctor`.",
  host_protocol_error: "The tracker2fa native host sent something unreadable. Run `tracker2fa doctor` to check the installation.",
  host_unavailable: "The tracker2fa native host cannot be reached.",
  timeout: "The tracker2fa native host did not answer in time. Try again.",
  vault_locked: "Your vault is locked. Click the tracker2fa toolbar button and enter your master password.",
  vault_not_found: "You have no vault yet. Create one with `tracker2fa vault init` in a terminal.",
  wrong_password: "That password does not open your vault. Try again.",
  vault_corrupt: "Your vault file cannot be read; it was left untouched. Restore it from the backup next to it.",
  vault_tampered: "Your vault file failed its integrity check; it was left untouched. Restore it from the backup next to it.",
  unsupported_version: "Your vault was written by a newer tracker2fa. Upgrade tracker2fa to open it.",
  entry_not_found: "That account is no longer in your vault. Reopen the popup to refresh the list.",
  ambiguous_entry: "More than one account has that name; pick it from the list instead.",
  origin_not_allowed: "That account is not bound to this site, so its code is not given here.",
  invalid_origin: "This page has no web origin an account can be bound to (only http and https pages).",
  opaque_origin: globalThis.__tracker2fa.OPAQUE_ORIGIN_MESSAGE,
  invalid_uri: "That is not a valid otpauth:// URI.",
  invalid_secret: "The secret must be Base32 (letters A–Z and digits 2–7), at least 16 characters: check that it was copied in full.",
  bad_request: "The request was malformed.",
  no_entry_for_origin: "No account in your vault is bound to this site. Open the tracker2fa popup to add or bind one.",
  no_backup_codes: "This account has no unused backup codes left.",
  field_has_input: "The code field already holds something you typed, so it was left alone. Clear it to fill.",
  no_field: "No one-time-code field was found on this page.",
  not_a_web_page: "This tab is not a web page (http or https).",
  auto_fill_not_allowed: "Auto-fill is not enabled for this site.",
  cancelled: "The request was cancelled.",
  wrong_security_key:
    "That security key is not enrolled for this vault, so the vault stays locked. Touch the key you enrolled, or unlock with your master password.",
  no_key_slot:
    "Your vault has no security key enrolled. Unlock it with your master password; to add a key, run `tracker2fa vault key add` in a terminal.",
  too_many_slots:
    "Your vault already holds as many key slots as it can (8). Remove one with `tracker2fa vault key remove ID` first.",
  fido_cancelled:
    "The security-key request was cancelled.",
  fido_timeout:
    "No security key was touched in time. Try again and touch your key when it blinks.",
  vault_exists: "A vault already exists there; it was not overwritten.",
  vault_error: "The vault could not complete that request.",
  config_error: "The native host's configuration cannot be read. Fix: run `tracker2fa install` again.",
  internal_error: "The native host hit an internal error (details are in its log). Try again.",
  forbidden_caller: "The native host refused this browser extension. Run `tracker2fa install` again.",
  too_large: "The request was too large for the native host.",
  unknown_method: "The native host is older than this extension; update tracker2fa.",
  bad_frame: "The native host could not read a message; update tracker2fa.",
};

/** The user-facing sentence for an error code (falls back to the host's own message). */
export function userMessage(code, fallback) {
  const i18n = (globalThis.browser ?? globalThis.chrome)?.i18n;
  const translated = MESSAGES[code] && i18n ? i18n.getMessage(`err_${code}`) : "";
  return translated || MESSAGES[code] || fallback || `Unexpected error (${code}).`;
}

export const KNOWN_CODES = Object.keys(MESSAGES);
