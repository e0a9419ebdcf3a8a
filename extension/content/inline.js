// The inline fill control: a small button drawn over the right edge of a detected field. It lives in
// a shadow root whose host element carries `data-tracker2fa-fill` (the contract tests rely on).
(() => {
  const ns = (globalThis.__tracker2fa ??= {});
  const SIZE = 22;
  const i18n = (globalThis.browser ?? globalThis.chrome)?.i18n;
  /** A message from _locales (see common/i18n.js for pages); the key when it is missing. */
  ns.t = (key, ...subs) => i18n?.getMessage(key, subs.map(String)) || key;

  const STYLE = `
    :host { all: initial; position: absolute; z-index: 2147483647; }
    button.fill { width: ${SIZE}px; height: ${SIZE}px; border: 0; border-radius: 4px; padding: 0; cursor: pointer;
      background: #1e5ac8; color: #fff; font: bold 12px/1 system-ui, sans-serif; }
    button.fill::before { content: attr(data-glyph); }
    button.fill:focus-visible { outline: 2px solid #ffb000; outline-offset: 1px; }
    .panel { position: absolute; top: ${SIZE + 4}px; right: 0; min-width: 220px; max-width: 320px;
      background: #fff; color: #111; border: 1px solid #888; border-radius: 6px; padding: 6px;
      font: 13px/1.35 system-ui, sans-serif; box-shadow: 0 2px 8px rgba(0,0,0,.25); }
    .panel[hidden] { display: none; }
    .panel button { display: block; width: 100%; margin: 2px 0; text-align: left; font: inherit; cursor: pointer; }
    @media (prefers-color-scheme: dark) { .panel { background: #222; color: #eee; border-color: #555; } }
  `;

  /**
   * Create the control for `target`; `onActivate(entryId|null)` runs on a trusted click or Enter.
   * Returns {host, position(), showMessage(text, state), showChoices(list), remove()}.
   */
  ns.createControl = (target, onActivate) => {
    const doc = target.inputs[0].ownerDocument;
    const host = doc.createElement("div");
    host.setAttribute("data-tracker2fa-fill", target.kind);
    host.setAttribute("data-tracker2fa-state", "idle");
    const root = host.attachShadow({ mode: "open" });
    const style = doc.createElement("style");
    style.textContent = STYLE;
    const button = doc.createElement("button");
    button.className = "fill";
    button.type = "button";
    button.setAttribute("aria-haspopup", "true");
    const panel = doc.createElement("div");
    panel.className = "panel";
    panel.setAttribute("role", "status");
    panel.setAttribute("aria-live", "polite");
    panel.hidden = true;
    root.append(style, button, panel);
    const label = ns.t(target.kind === "backup" ? "inline_fill_backup" : "inline_fill_code");
    // The glyph ("2", or "B" for backup codes) is drawn by CSS as decoration; the accessible name is the
    // label, so screen readers say what the button does.
    button.dataset.glyph = target.kind === "backup" ? "B" : "2";
    button.title = label;
    button.setAttribute("aria-label", label);

    // Only a real user action may pull a code into the page: synthetic clicks from page scripts are ignored.
    const activate = (event, entryId) => {
      if (!event.isTrusted) return;
      event.preventDefault();
      event.stopPropagation();
      onActivate(entryId ?? null);
    };
    host.addEventListener("click", (event) => {
      const path = event.composedPath();
      const choice = path.find((n) => n instanceof HTMLElement && n.dataset?.entryId);
      if (choice) activate(event, choice.dataset.entryId);
      else if (path.includes(button) || path[0] === host) activate(event, null);
    });

    const api = {
      host,
      target,
      position() {
        const anchor = target.inputs[target.inputs.length - 1];
        const rect = anchor.getBoundingClientRect();
        const win = doc.defaultView;
        const inside = target.boxes ? 4 : -(SIZE + 4);
        host.style.left = `${rect.right + win.scrollX + inside}px`;
        host.style.top = `${rect.top + win.scrollY + Math.max(0, (rect.height - SIZE) / 2)}px`;
        host.style.display = rect.width === 0 && rect.height === 0 ? "none" : "block";
      },
      showMessage(text, state) {
        host.setAttribute("data-tracker2fa-state", state);
        panel.replaceChildren(doc.createTextNode(text));
        panel.hidden = !text;
      },
      // The code for this step was just given to this site: count down to the next one (issue 12).
      showWaiting(seconds) {
        api.showMessage(ns.t("inline_just_used", Math.max(0, Math.ceil(seconds))), "waiting");
      },
      // A control that will never fill here (e.g. an opaque-origin frame): says why on hover and on click.
      markRefused(text) {
        host.setAttribute("data-tracker2fa-state", "refused");
        button.title = text;
        button.setAttribute("aria-label", text);
      },
      showUnlock(text, onUnlock) {
        host.setAttribute("data-tracker2fa-state", "error");
        const unlock = doc.createElement("button");
        unlock.type = "button";
        unlock.dataset.action = "unlock";
        unlock.textContent = ns.t("inline_unlock");
        unlock.addEventListener("click", (event) => {
          if (!event.isTrusted) return;
          event.stopPropagation();
          onUnlock();
        });
        panel.replaceChildren(doc.createTextNode(text), unlock);
        panel.hidden = false;
      },
      showChoices(list) {
        host.setAttribute("data-tracker2fa-state", "choose");
        panel.replaceChildren();
        const head = doc.createElement("div");
        head.textContent = ns.t("inline_choose");
        panel.append(head);
        for (const item of list) {
          const b = doc.createElement("button");
          b.type = "button";
          b.dataset.entryId = item.id;
          b.textContent = item.label;
          panel.append(b);
        }
        panel.hidden = false;
        panel.querySelector("button")?.focus();
      },
      remove() {
        host.remove();
      },
    };
    host.style.position = "absolute";
    (doc.body ?? doc.documentElement).append(host);
    api.position();
    return api;
  };
})();
