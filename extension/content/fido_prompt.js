// The security-key prompt drawn in the page: which site asks, for what, with which key; then "touch your
// key", the PIN form (an extension page in an iframe: the page cannot read what is typed there) or "key
// removed", as the host's events arrive. It lives in a closed shadow root under an element carrying
// `data-tracker2fa-prompt` (and `data-state`, the contract tests rely on). Only trusted clicks or key
// presses count, and only once the prompt has been visible for ARM_MS (a click or Enter meant for the page
// must not confirm a prompt that just appeared under it).
(() => {
  const ns = (globalThis.__tracker2fa ??= {});
  const ARM_MS = 400;
  // These scripts run at document_start, before inline.js defines the same helper (_locales, chrome.i18n).
  const i18n = (globalThis.browser ?? globalThis.chrome)?.i18n;
  ns.t ??= (key, ...subs) => i18n?.getMessage(key, subs.map(String)) || key;
  const t = (key, ...subs) => ns.t(key, ...subs);

  const STYLE = `
    :host { all: initial; position: fixed; top: 12px; right: 12px; z-index: 2147483647; }
    .box { width: 320px; background: #fff; color: #111; border: 1px solid #888; border-radius: 8px; padding: 12px;
      font: 13px/1.4 system-ui, sans-serif; box-shadow: 0 4px 16px rgba(0,0,0,.3); }
    .site { font-weight: bold; font-size: 14px; word-break: break-all; }
    .key { margin: 6px 0; color: #333; }
    .status { margin: 8px 0; min-height: 1.4em; }
    .virtual { color: #8a4b00; }
    .buttons { display: flex; gap: 6px; flex-wrap: wrap; }
    button { font: inherit; cursor: pointer; padding: 4px 10px; }
    button.primary { background: #1e5ac8; color: #fff; border: 1px solid #1e5ac8; border-radius: 4px; }
    iframe { width: 100%; height: 96px; border: 0; }
    [hidden] { display: none !important; }
    @media (prefers-color-scheme: dark) { .box { background: #222; color: #eee; border-color: #555; } .key { color: #ccc; } }
  `;

  const ACTIONS = {
    "webauthn.create": "prompt_create",
    "webauthn.get": "prompt_get",
    "u2f.register": "prompt_u2f_register",
    "u2f.sign": "prompt_u2f_sign",
  };

  function describeKeys(keys) {
    if (keys.length === 0) return t("prompt_no_key");
    const names = keys.map((k) => `${k.name} (${k.transport})`);
    return keys.length === 1 ? t("prompt_one_key", names[0]) : t("prompt_many_keys", names.join(", "));
  }

  /**
   * Show the prompt for `{origin, kind, keys, rpId, allowBrowser}`; `handlers` has onConfirm, onBrowser and
   * onCancel. Returns {element, state, set(state, text), showPin(url), close()}.
   */
  ns.showFidoPrompt = (request, handlers) => {
    const doc = document;
    const element = doc.createElement("div");
    element.setAttribute("data-tracker2fa-prompt", request.kind);
    element.setAttribute("data-state", "confirm");
    const root = element.attachShadow({ mode: "closed" });
    const style = doc.createElement("style");
    style.textContent = STYLE;
    const box = doc.createElement("div");
    box.className = "box";
    box.setAttribute("role", "dialog");
    box.setAttribute("aria-label", t("prompt_label"));
    const site = doc.createElement("div");
    site.className = "site";
    let url = null;
    try {
      url = new URL(request.origin);
    } catch {
      // an origin that is not a URL is shown as it is
    }
    site.textContent = url?.host ?? String(request.origin);
    const action = doc.createElement("div");
    action.textContent = t(ACTIONS[request.kind] ?? "prompt_other");
    if (request.rpId && request.rpId !== url?.hostname) action.textContent = t("prompt_for_rp", action.textContent, request.rpId);
    const key = doc.createElement("div");
    key.className = "key";
    key.textContent = describeKeys(request.keys);
    if (request.keys.some((k) => k.virtual)) key.classList.add("virtual");
    const status = doc.createElement("div");
    status.className = "status";
    status.setAttribute("role", "status");
    status.setAttribute("aria-live", "polite");
    const pinFrame = doc.createElement("iframe");
    pinFrame.hidden = true;
    pinFrame.title = t("prompt_pin_title");
    const buttons = doc.createElement("div");
    buttons.className = "buttons";
    const button = (label, name, primary) => {
      const b = doc.createElement("button");
      b.type = "button";
      b.textContent = label;
      b.dataset.action = name;
      if (primary) b.className = "primary";
      buttons.append(b);
      return b;
    };
    const confirm = button(t("prompt_continue"), "confirm", true);
    const browserButton = request.allowBrowser ? button(t("prompt_use_browser"), "browser", false) : null;
    const cancel = button(t("prompt_cancel"), "cancel", false);
    box.append(site, action, key, status, pinFrame, buttons);
    root.append(style, box);

    const shownAt = performance.now();
    let closed = false;
    const armed = () => performance.now() - shownAt >= ARM_MS;
    const api = {
      element,
      get state() {
        return element.getAttribute("data-state");
      },
      set(state, text) {
        element.setAttribute("data-state", state);
        status.textContent = text ?? "";
        const asking = state === "confirm" || state === "ready";
        confirm.hidden = !asking;
        if (browserButton) browserButton.hidden = !asking;
        if (state !== "pin") pinFrame.hidden = true;
      },
      showPin(url) {
        api.set("pin", t("prompt_enter_pin"));
        // Firefox ignores the form's own focus() inside a frame that does not have the focus itself: give
        // it the frame once it has loaded, so the PIN typed goes to the form and never to the page.
        pinFrame.addEventListener("load", () => pinFrame.focus(), { once: true });
        pinFrame.src = url;
        pinFrame.hidden = false;
      },
      close() {
        if (closed) return;
        closed = true;
        element.remove();
      },
    };
    const act = (event, name) => {
      if (!event.isTrusted || closed) return;
      if (!armed()) return; // too soon: meant for the page
      event.preventDefault();
      event.stopPropagation();
      if (name === "confirm" && (api.state === "confirm" || api.state === "ready")) {
        api.set("waiting", t("prompt_asking"));
        handlers.onConfirm();
      } else if (name === "browser" && browserButton && (api.state === "confirm" || api.state === "ready")) {
        handlers.onBrowser();
      } else if (name === "cancel") {
        handlers.onCancel();
      }
    };
    root.addEventListener("click", (event) => {
      const target = event.composedPath().find((n) => n instanceof HTMLElement && n.dataset?.action);
      if (target) act(event, target.dataset.action);
    });
    // Enter and Space on the focused button act at keydown: not every browser turns a key press into a
    // click when its window is not focused (Firefox driven over WebDriver BiDi).
    root.addEventListener("keydown", (event) => {
      if (event.key === "Escape") act(event, "cancel");
      else if (event.key === "Enter" || event.key === " ") {
        const action = root.activeElement?.dataset?.action;
        if (action) act(event, action);
      }
    });
    api.set("confirm", "");
    (doc.body ?? doc.documentElement).append(element);
    confirm.focus();
    setTimeout(() => {
      if (!closed && api.state === "confirm") element.setAttribute("data-state", "ready");
    }, ARM_MS);
    return api;
  };
})();
