// The consent window: where the user confirms a page's security-key request, in UI the extension owns. It
// is a window of its own (windows.create, type "popup"), like the browser's WebAuthn dialog and Bitwarden's
// passkey pop-out, never an element in the page's DOM: the page cannot style, cover, read, focus or click
// it, and learns nothing while it is open (its request is simply pending).
//
// One session per request. The page in the window (consent/consent.html) connects on a runtime port named
// CONSENT_PORT with the session's random token in its URL's fragment; the port is accepted only from that
// page of this extension, in the window this session created, once. Messages:
//   worker → window:  request {details}   event {event, deviceName, wrongPin?, retries?}   ended {code, message}
//   window → worker:  confirm {allowAttestation}   browser   cancel   pin {pin: string | null}
// Closing the window (or its port) is a cancel.
export const CONSENT_PORT = "tracker2fa-consent";
export const CONSENT_PAGE = "consent/consent.html";
const SIZE = { width: 460, height: 440 };
const ENDED_WINDOW_MS = 120000; // a window showing why a request failed closes by itself after this

function randomToken() {
  const bytes = crypto.getRandomValues(new Uint8Array(18));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_");
}

/** Where to put the window: centred over the window of the tab that asked, near its top. */
async function placement(api, windowId) {
  try {
    const near = await api.windows.get(windowId);
    if (![near.left, near.top, near.width].every(Number.isFinite)) return {};
    return { left: Math.max(0, Math.round(near.left + (near.width - SIZE.width) / 2)), top: Math.max(0, near.top + 80) };
  } catch {
    return {};
  }
}

class ConsentSession {
  constructor(manager, token, details, marks, handlers) {
    this.manager = manager;
    this.token = token;
    this.details = details;
    this.marks = marks; // the request's timing marks (background/fido.js)
    this.handlers = handlers; // {confirm({allowAttestation}), browser(), cancel(), pin(pin)}
    this.windowId = null;
    this.port = null;
    this.waitingPort = null; // a port that connected before windows.create answered
    this.outbox = [];
    this.state = "open"; // open → ended (showing why) → closed
  }

  async create(tab) {
    const api = this.manager.api;
    const url = api.runtime.getURL(`${CONSENT_PAGE}#${this.token}`);
    const where = tab?.windowId === undefined ? {} : await placement(api, tab.windowId);
    let win;
    try {
      win = await api.windows.create({ url, type: "popup", focused: true, ...SIZE, ...where });
    } catch (err) {
      this.close();
      this.handlers.cancel(`the consent window could not be opened (${err?.message ?? err})`);
      return;
    }
    this.windowId = win.id;
    this.marks.windowCreated = performance.timeOrigin + performance.now();
    if (this.state === "closed") {
      api.windows.remove(win.id).catch(() => {});
      return;
    }
    this.manager.byWindow.set(win.id, this);
    if (this.waitingPort) {
      const port = this.waitingPort;
      this.waitingPort = null;
      this.manager.accept(port, this);
    }
  }

  attach(port) {
    this.port = port;
    this.marks.windowConnected = performance.timeOrigin + performance.now();
    port.onMessage.addListener((msg) => this.fromWindow(msg));
    port.onDisconnect.addListener(() => this.closedByUser());
    port.postMessage({ type: "request", details: this.details });
    for (const msg of this.outbox.splice(0)) port.postMessage(msg);
  }

  fromWindow(msg) {
    if (this.state !== "open" || !msg || typeof msg !== "object") return;
    if (msg.type === "confirm") this.handlers.confirm({ allowAttestation: msg.allowAttestation === true });
    else if (msg.type === "browser") this.handlers.browser();
    else if (msg.type === "cancel") this.handlers.cancel("cancelled in tracker2fa's window");
    else if (msg.type === "pin" && (msg.pin === null || typeof msg.pin === "string")) this.handlers.pin(msg.pin);
  }

  post(msg) {
    if (this.state === "closed") return;
    if (this.port) {
      try {
        this.port.postMessage(msg);
      } catch {
        // the window is closing
      }
    } else {
      this.outbox.push(msg);
    }
  }

  /** The request ended: the window shows why (an error the user can act on) or simply closes. */
  end(error = null) {
    if (this.state !== "open") return;
    if (error === null || !this.port) {
      this.close();
      return;
    }
    this.state = "ended";
    this.post({ type: "ended", code: error.code, message: error.message });
    setTimeout(() => this.close(), ENDED_WINDOW_MS);
  }

  closedByUser() {
    const wasOpen = this.state === "open";
    this.close();
    if (wasOpen) this.handlers.cancel("the consent window was closed");
  }

  close() {
    if (this.state === "closed") return;
    this.state = "closed";
    this.manager.forget(this);
    if (this.windowId !== null) this.manager.api.windows.remove(this.windowId).catch(() => {});
  }
}

/** The consent windows of the service worker: opens them and accepts only their own pages' ports. */
export class ConsentWindows {
  constructor(api) {
    this.api = api;
    this.byToken = new Map();
    this.byWindow = new Map();
    this.byTab = new Map(); // the tab that asked -> its latest session (a new request replaces an ended one)
    api.runtime.onConnect.addListener((port) => {
      if (port.name === CONSENT_PORT) this.connect(port);
    });
    api.windows?.onRemoved?.addListener((windowId) => this.byWindow.get(windowId)?.closedByUser());
  }

  /** Open a consent window for a request from `tab`; `handlers` get the user's answers; `marks` gets the
   * window's timing (windowCreated, windowConnected). */
  open(tab, details, marks, handlers) {
    this.byTab.get(tab?.id)?.close();
    const session = new ConsentSession(this, randomToken(), details, marks, handlers);
    this.byToken.set(session.token, session);
    if (tab?.id !== undefined) this.byTab.set(tab.id, session);
    session.create(tab);
    return session;
  }

  connect(port) {
    const sender = port.sender ?? {};
    const page = this.api.runtime.getURL(CONSENT_PAGE);
    const url = typeof sender.url === "string" ? sender.url : "";
    const session = url.startsWith(`${page}#`) ? this.byToken.get(url.slice(page.length + 1)) : undefined;
    if (!session || sender.id !== this.api.runtime.id || session.port || session.waitingPort || session.state !== "open") {
      port.disconnect();
      return;
    }
    if (session.windowId === null) {
      session.waitingPort = port; // checked once windows.create has said which window is ours
      return;
    }
    this.accept(port, session);
  }

  accept(port, session) {
    if (port.sender?.tab?.windowId !== session.windowId || port.sender?.frameId !== 0) {
      port.disconnect();
      return;
    }
    session.attach(port);
  }

  forget(session) {
    this.byToken.delete(session.token);
    if (session.windowId !== null) this.byWindow.delete(session.windowId);
    for (const [tabId, s] of this.byTab) if (s === session) this.byTab.delete(tabId);
  }
}
