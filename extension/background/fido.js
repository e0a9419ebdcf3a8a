// The service worker's side of the security-key bridge. Each page request arrives on its own runtime port
// ("tracker2fa-fido") from content/fido_bridge.js:
//   begin {documentOrigin, kind, request} → result {result} | error {name, message, u2fErrorCode} | fallback
//   cancel, or the port closing           → the host's request is cancelled (`cancel {target}`), the
//                                            consent window closed
// The origin is decided here from what the browser says about the port's sender (common/origin_policy.js,
// the same rule as for codes), never taken from the page. The user confirms in the extension's consent
// window (background/consent.js), never in the page; the host is asked only after that (or at once when
// the host says its virtual test key confirms by itself and it is the only key). The host re-checks
// everything (rpId by the Public Suffix List, appId same-site); the checks here only spare the user a
// window for a request that cannot succeed.
import { t } from "../common/i18n.js";
import { effectiveSettings } from "../common/settings.js";
import { ConsentWindows } from "./consent.js";
import { senderOriginDecision, urlOrigin } from "./origin.js";

export const PORT_NAME = "tracker2fa-fido";
const PAGE_ERROR_NAMES = new Set(["NotAllowedError", "InvalidStateError", "AbortError", "SecurityError", "TypeError", "NotSupportedError"]);
// The host's codes when an error arrives without `dom_name` (docs/protocol.md, "Security keys").
const CODE_TO_ERROR = {
  fido_security_error: ["SecurityError", 2],
  fido_bad_request: ["TypeError", 2],
  fido_credential_excluded: ["InvalidStateError", 4],
  fido_no_credential: ["NotAllowedError", 4],
  fido_no_device: ["NotAllowedError", 5],
  fido_cancelled: ["AbortError", 5],
  fido_timeout: ["NotAllowedError", 5],
};
// Failures the consent window keeps showing (with what to do) after the page got its error.
const SHOWN_IN_WINDOW = new Set(["fido_pin_blocked", "fido_pin_auth_blocked", "fido_no_credential", "fido_credential_excluded",
  "fido_device_removed", "fido_timeout", "fido_no_device", "fido_pin_required", "fido_unsupported", "fido_error"]);
const HOST_METHODS = {
  "webauthn.create": "fido.create",
  "webauthn.get": "fido.get",
  "u2f.register": "u2f.register",
  "u2f.sign": "u2f.sign",
};
const MAX_WAIT_MS = 600000;

/**
 * True when the host's fido.devices listing lets a request run without the consent window: the host says
 * its virtual test key confirms by itself, and every key listed is that virtual key. A real key, or any key
 * the host does not call virtual, always gets the consent window.
 */
export function confirmsByItself(listing) {
  const keys = Array.isArray(listing?.keys) ? listing.keys : [];
  return listing?.autoConfirm === true && keys.length > 0 && keys.every((k) => k?.virtual === true);
}

/** The match pattern for an origin's host (match patterns carry no port; the port is checked per request). */
export function matchPattern(origin) {
  const url = new URL(origin);
  return `${url.protocol}//${url.hostname}/*`;
}

/**
 * Whether `rpId` can belong to `origin`: its host or a parent domain of it. Necessary, not sufficient: the
 * host decides with the Public Suffix List (a parent that is a public suffix, like `com`, is refused there).
 */
export function rpIdPlausible(origin, rpId) {
  if (rpId === undefined || rpId === null) return true;
  if (typeof rpId !== "string" || rpId === "" || rpId.startsWith(".") || rpId.endsWith(".")) return false;
  const host = new URL(origin).hostname;
  const id = rpId.toLowerCase();
  return host === id || host.endsWith(`.${id}`);
}

/**
 * What the page sees for a failure: a DOMException name, a message, a U2F error code. The messages given to
 * pages stay English, like the browsers' own DOMException messages; the PIN page's errors are translated.
 */
export function pageError(err) {
  const [name, u2f] = CODE_TO_ERROR[err?.code] ?? ["NotAllowedError", 1];
  return {
    name: PAGE_ERROR_NAMES.has(err?.domName) ? err.domName : name,
    message: String(err?.message ?? "The security key request failed."),
    u2fErrorCode: [1, 2, 3, 4, 5].includes(err?.u2fErrorCode) ? err.u2fErrorCode : u2f,
  };
}

const wallClock = () => performance.timeOrigin + performance.now();

function rpIdOf(kind, options) {
  if (kind === "webauthn.get") return options?.rpId;
  if (kind === "webauthn.create") return options?.rp?.id;
  return undefined;
}

function hostTimeoutMs(kind, request) {
  const asked = kind.startsWith("webauthn.") ? request.options?.timeout ?? 120000 : (request.timeoutSeconds ?? 30) * 1000;
  return Math.min(Number(asked) || 120000, MAX_WAIT_MS) + 15000; // the host ends it first with fido_timeout
}

function hostParams(kind, origin, request) {
  if (kind.startsWith("webauthn.")) return { origin, options: request.options };
  const params = { origin, registeredKeys: request.registeredKeys };
  for (const name of ["appId", "registerRequests", "challenge", "timeoutSeconds"]) {
    if (request[name] !== undefined) params[name] = request[name];
  }
  return params;
}

/** One page request on its port. */
class Ceremony {
  constructor(bridge, port) {
    this.bridge = bridge;
    this.port = port;
    this.tabId = port.sender?.tab?.id;
    this.origin = null;
    this.topOrigin = null;
    this.kind = null;
    this.request = null;
    this.keys = [];
    this.hostId = null;
    this.consent = null; // the consent window's session
    // Wall-clock marks (performance.timeOrigin + now(): comparable with the page's and the window's) of the
    // last request, for bench/fido_page_bench.py: begun, listed (fido.devices answered), asked (the window
    // is being opened), windowCreated, windowConnected, confirmed, answered.
    this.marks = {};
    this.state = "new"; // new → beginning → consent → running → done
    port.onMessage.addListener((msg) => this.receive(msg).catch((err) => this.fail(pageError(err))));
    port.onDisconnect.addListener(() => this.cancel());
  }

  post(msg) {
    if (this.state === "done") return; // never to a port that is closed (or closing)
    try {
      this.port.postMessage(msg);
    } catch {
      this.cancel(); // the page's side is gone
    }
  }

  fail(error, hostCode = null) {
    this.post({ type: "error", ...error });
    this.end(hostCode !== null && SHOWN_IN_WINDOW.has(hostCode) ? { code: hostCode, message: error.message } : null);
  }

  end(shown = null) {
    if (this.state === "done") return;
    this.state = "done";
    this.consent?.end(shown);
    this.bridge.forget(this);
    try {
      this.port.disconnect();
    } catch {
      // already closed
    }
  }

  async receive(msg) {
    if (msg?.type === "begin" && this.state === "new") return this.begin(msg);
    if (msg?.type === "cancel") return this.cancel();
    return undefined;
  }

  async begin(msg) {
    this.marks.begun = wallClock();
    this.state = "beginning";
    const kind = msg.kind;
    if (!(kind in HOST_METHODS) || msg.request === null || typeof msg.request !== "object") {
      return this.fail({ name: "TypeError", message: "malformed security-key request", u2fErrorCode: 2 });
    }
    this.kind = kind;
    this.request = msg.request;
    const decision = senderOriginDecision(this.port.sender, msg.documentOrigin);
    if (decision.refused) {
      return this.fail({
        name: "SecurityError",
        message: decision.refused === "opaque_origin"
          ? "This frame has no origin of its own (sandboxed); security keys are never used here."
          : "This page has no web origin a security key can be used for.",
        u2fErrorCode: 2,
      });
    }
    this.origin = decision.origin;
    const top = this.port.sender?.frameId === 0 ? null : urlOrigin(this.port.sender?.tab?.url);
    this.topOrigin = top !== null && top !== this.origin ? top : null; // a frame of another site asks
    const settings = await effectiveSettings();
    if (this.state === "done") return undefined; // the page went away meanwhile
    const webauthn = kind.startsWith("webauthn.");
    if (!settings.securityKeyOrigins.includes(this.origin)) {
      this.bridge.declined?.note(this.tabId, this.origin); // said on the toolbar button and in the popup
      if (webauthn) return this.fallback();
      return this.fail({ name: "NotAllowedError", message: "tracker2fa security keys are not enabled for this site.", u2fErrorCode: 3 });
    }
    // A frame the page did not delegate the feature to (Permissions Policy, as the browser reads it for this
    // frame): the browser's own WebAuthn answers, and refuses it exactly as it would without us.
    if (webauthn && msg.framePolicyAllows === false) return this.fallback();
    const rpId = rpIdOf(kind, this.request.options);
    if (!rpIdPlausible(this.origin, rpId)) {
      return this.fail({ name: "SecurityError", message: `The relying party id ${String(rpId)} is not this site's (${this.origin}).`, u2fErrorCode: 2 });
    }
    if (this.bridge.busyTab(this)) {
      return this.fail({ name: "NotAllowedError", message: "Another security-key request is pending in this tab.", u2fErrorCode: 1 });
    }
    let listing;
    try {
      listing = await this.bridge.host.request("fido.devices", {}, { timeoutMs: 20000 });
    } catch (err) {
      if (webauthn) return this.fallback(); // no usable host: the browser's own WebAuthn
      return this.fail(pageError(err));
    }
    if (this.state === "done") return undefined;
    this.marks.listed = wallClock();
    this.keys = (Array.isArray(listing?.keys) ? listing.keys : []).map((k) => ({
      id: String(k.id), name: String(k.name ?? k.id), transport: String(k.transport ?? ""), virtual: Boolean(k.virtual),
    }));
    if (this.keys.length === 0 && webauthn) return this.fallback();
    const autoConfirm = listing?.autoConfirm === true;
    // The virtual test key may confirm by itself, never a real one: with any real key present, the user is asked.
    if (confirmsByItself(listing)) {
      this.bridge.autoConfirmed += 1;
      return this.run({ allowAttestation: true });
    }
    this.state = "consent";
    this.marks.asked = wallClock();
    this.consent = this.bridge.consent.open(this.port.sender?.tab, this.details(rpId, autoConfirm), this.marks, {
      confirm: (answer) => {
        if (this.state !== "consent") return;
        this.marks.confirmed = wallClock();
        this.run(answer);
      },
      browser: () => {
        if (this.state === "consent" && webauthn) this.fallback();
      },
      cancel: (why) => {
        if (this.state === "consent" || this.state === "running") {
          this.fail({ name: "NotAllowedError", message: `The request was ${why}.`, u2fErrorCode: 1 });
          this.cancelHost();
        }
      },
      pin: (pin) => this.pin(pin),
    });
    return undefined;
  }

  /** What the consent window shows: never given to the page. */
  details(rpId, autoConfirm) {
    const options = this.request.options ?? {};
    return {
      origin: this.origin,
      topOrigin: this.topOrigin,
      kind: this.kind,
      rpId: rpId ?? null,
      keys: this.keys.map(({ id: _id, ...k }) => k),
      attestation: this.kind === "webauthn.create" && ["direct", "indirect", "enterprise"].includes(options.attestation),
      allowBrowser: this.kind.startsWith("webauthn."),
      autoConfirmConfigured: autoConfirm,
    };
  }

  fallback() {
    this.post({ type: "fallback" });
    this.end();
  }

  async run({ allowAttestation }) {
    this.state = "running";
    const method = HOST_METHODS[this.kind];
    const params = hostParams(this.kind, this.origin, this.request);
    if (this.kind === "webauthn.create") params.allowAttestation = allowAttestation === true;
    if (this.topOrigin !== null && this.kind.startsWith("webauthn.")) params.topOrigin = this.topOrigin;
    try {
      const result = await this.bridge.host.request(method, params, {
        timeoutMs: hostTimeoutMs(this.kind, this.request),
        onSent: (id) => {
          this.hostId = id;
          this.bridge.byHostId.set(id, this);
        },
      });
      this.marks.answered = wallClock();
      this.bridge.lastMarks = this.marks;
      this.post({ type: "result", result });
      this.end();
    } catch (err) {
      this.fail(pageError(err), err?.code ?? "fido_error");
    }
  }

  hostEvent(event) {
    const key = this.keys.find((k) => k.id === String(event.device));
    const msg = { type: "event", event: event.event, deviceName: key?.name ?? null };
    if (event.event === "fido.pin_needed") {
      msg.wrongPin = event.wrongPin === true;
      msg.retries = Number.isInteger(event.retries) ? event.retries : null;
    }
    this.consent?.post(msg);
  }

  /** The PIN typed in the consent window (null declines); only while the host waits for it. */
  pin(pin) {
    if (this.state !== "running" || this.hostId === null) return;
    const value = pin === null ? null : String(pin);
    if (value !== null && (value.length < 4 || value.length > 63)) {
      this.consent?.post({ type: "event", event: "fido.pin_needed", wrongPin: false, retries: null, problem: t("prompt_pin_length") });
      return;
    }
    this.bridge.host.request("fido.pin", { target: this.hostId, pin: value }).catch(() => {});
  }

  cancelHost() {
    if (this.hostId !== null) this.bridge.host.request("cancel", { target: this.hostId }).catch(() => {});
  }

  cancel() {
    const wasRunning = this.state === "running";
    this.end();
    if (wasRunning) this.cancelHost();
  }
}

/** Wires the bridge into the service worker: runtime ports from the content script, host events. */
export class FidoBridge {
  constructor(api, host, declined = null) {
    this.api = api;
    this.host = host;
    this.declined = declined; // background/declined.js: requests refused because keys are off for the site
    this.consent = new ConsentWindows(api);
    this.byHostId = new Map();
    this.ceremonies = new Set();
    this.started = 0; // ports accepted (diagnostics and tests)
    this.autoConfirmed = 0; // requests the virtual test key confirmed by itself (the popup says so)
    this.lastMarks = {}; // the marks of the last request answered (diagnostics and the page bench)
    api.runtime.onConnect.addListener((port) => {
      if (port.name !== PORT_NAME) return;
      // Only this extension's content scripts connect (no externally_connectable); a frame without a tab
      // (an extension page) has no page to act for.
      if (port.sender?.id !== api.runtime.id || port.sender?.tab?.id === undefined) {
        port.disconnect();
        return;
      }
      this.started += 1;
      this.ceremonies.add(new Ceremony(this, port));
    });
    host.onEvent((event) => {
      if (typeof event.event === "string" && event.event.startsWith("fido.")) this.byHostId.get(event.id)?.hostEvent(event);
    });
  }

  /** True when another request of `ceremony`'s tab waits for consent or a key (one at a time per tab). */
  busyTab(ceremony) {
    for (const other of this.ceremonies) {
      if (other !== ceremony && other.tabId === ceremony.tabId && (other.state === "consent" || other.state === "running")) return true;
    }
    return false;
  }

  forget(ceremony) {
    this.ceremonies.delete(ceremony);
    if (ceremony.hostId !== null) this.byHostId.delete(ceremony.hostId);
  }
}
