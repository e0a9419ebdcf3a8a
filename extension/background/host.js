// One native-messaging port to the tracker2fa host: request ids, replies matched to requests,
// timeouts, host events, and a fresh port after the host dies.

export const HOST_NAME = "dev.tracker2fa.host";
const DEFAULT_TIMEOUT_MS = 15000;
// Requests that read or compute without changing the vault may be sent again on a new port when
// the host died before answering. fido.devices only lists keys: without a retry, a page's security-key
// request right after the host restarted fell back to the browser's own WebAuthn.
const RETRY_SAFE = new Set([
  "hello", "vault.status", "vault.entries", "vault.code", "vault.copy_code", "settings.get", "fido.devices",
]);

export class HostError extends Error {
  /** `extra` holds the error object's other fields (security keys: `dom_name`, `u2f_error_code`). */
  constructor(code, message, extra = {}) {
    super(message);
    this.code = code;
    this.domName = typeof extra.dom_name === "string" ? extra.dom_name : undefined;
    this.u2fErrorCode = Number.isInteger(extra.u2f_error_code) ? extra.u2f_error_code : undefined;
  }
}

/** Classify the browser's disconnect message (Chromium lastError / Firefox port.error). */
export function disconnectCode(message) {
  const text = String(message ?? "");
  if (/not found|No such native application/i.test(text)) return "host_not_installed";
  if (/forbidden|not allowed|Access denied/i.test(text)) return "host_forbidden";
  if (/Error when communicating/i.test(text)) return "host_protocol_error";
  return "host_exited";
}

export class HostConnection {
  constructor(connectNative, { hostName = HOST_NAME, timeoutMs = DEFAULT_TIMEOUT_MS } = {}) {
    this.connectNative = connectNative;
    this.hostName = hostName;
    this.timeoutMs = timeoutMs;
    this.port = null;
    this.nextId = 1;
    this.pending = new Map(); // id -> {resolve, reject, timer, method}
    this.eventListeners = new Set();
    this.connections = 0; // how many ports were opened (diagnostics; a reconnect increments it)
    this.lastError = null; // {code, message} of the last disconnect
  }

  onEvent(listener) {
    this.eventListeners.add(listener);
  }

  get connected() {
    return this.port !== null;
  }

  ensurePort() {
    if (this.port) return this.port;
    const port = this.connectNative(this.hostName);
    this.connections += 1;
    port.onMessage.addListener((msg) => this.receive(port, msg));
    port.onDisconnect.addListener((p) => {
      const error = p?.error ?? globalThis.chrome?.runtime?.lastError;
      this.disconnected(port, error?.message);
    });
    this.port = port;
    return port;
  }

  receive(port, msg) {
    if (port !== this.port || !msg || typeof msg !== "object") return;
    if (typeof msg.event === "string") {
      for (const listener of this.eventListeners) {
        try {
          listener(msg);
        } catch (err) {
          console.error("tracker2fa: event listener failed", err);
        }
      }
      if (msg.id === undefined || !("result" in msg || "error" in msg)) return;
    }
    const waiter = this.pending.get(msg.id);
    if (!waiter) return; // a late reply to a request that timed out
    this.pending.delete(msg.id);
    clearTimeout(waiter.timer);
    if (msg.error) {
      const code = String(msg.error.code ?? "host_error");
      waiter.reject(new HostError(code, String(msg.error.message ?? code), msg.error));
    } else {
      waiter.resolve(msg.result ?? {});
    }
  }

  disconnected(port, message) {
    if (port !== this.port) return;
    this.port = null;
    const code = disconnectCode(message);
    this.lastError = { code, message: String(message ?? "the host exited") };
    const waiting = [...this.pending.values()];
    this.pending.clear();
    for (const waiter of waiting) {
      clearTimeout(waiter.timer);
      waiter.fail(code, this.lastError.message);
    }
  }

  /**
   * Send one request; resolves with `result`, rejects with HostError(code, message). `onSent(id)` learns the
   * request's id (for `cancel` and to match the host's events to it).
   */
  request(method, params = {}, { timeoutMs = this.timeoutMs, retries = RETRY_SAFE.has(method) ? 1 : 0, onSent } = {}) {
    return new Promise((resolve, reject) => {
      const attempt = (left) => {
        let port;
        try {
          port = this.ensurePort();
        } catch (err) {
          reject(new HostError(disconnectCode(err?.message), String(err?.message ?? err)));
          return;
        }
        const id = this.nextId++;
        const waiter = {
          method,
          resolve,
          reject,
          fail: (code, message) => {
            // A host that died mid-request is started again once for read-only requests. Chromium reports a
            // host killed while a message was written to it as "Error when communicating…", the text of a
            // host that wrote garbage: either way one more try of a read-only request costs nothing.
            if (left > 0 && (code === "host_exited" || code === "host_protocol_error")) attempt(left - 1);
            else reject(new HostError(code, message));
          },
          timer: setTimeout(() => {
            if (!this.pending.delete(id)) return;
            try {
              port.postMessage({ id: this.nextId++, method: "cancel", params: { target: id } });
            } catch {
              // The port is gone; nothing to cancel.
            }
            reject(new HostError("timeout", `no reply to ${method} within ${timeoutMs} ms`));
          }, timeoutMs),
        };
        this.pending.set(id, waiter);
        onSent?.(id);
        try {
          port.postMessage({ id, method, params });
        } catch (err) {
          this.pending.delete(id);
          clearTimeout(waiter.timer);
          this.disconnected(port, err?.message);
          waiter.fail(this.lastError?.code ?? "host_exited", String(err?.message ?? err));
        }
      };
      attempt(retries);
    });
  }

  disconnect() {
    if (this.port) {
      const port = this.port;
      this.disconnected(port, "disconnected by the extension");
      port.disconnect();
    }
  }
}
