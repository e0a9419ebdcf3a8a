// Content script entry: scan for second-factor fields (now, and again when the page changes), draw the
// inline control, fill on a trusted click / toolbar / keyboard command, and auto-fill where allowed.
(() => {
  const ns = (globalThis.__tracker2fa ??= {});
  if (ns.started) return; // injected twice (e.g. after an extension reload)
  ns.started = true;
  const ext = globalThis.browser ?? globalThis.chrome;

  // This document's own origin: an opaque one ("null": sandboxed, srcdoc, data:) never gets a code, and
  // nothing is asked of the extension for it (the service worker refuses such senders as well).
  const documentOrigin = self.origin;
  const refusal = ns.pageOrigin({ url: location.href, documentOrigin }).refused ?? null;
  const REFUSAL_MESSAGE =
    refusal === "opaque_origin"
      ? ns.OPAQUE_ORIGIN_MESSAGE
      : ns.t("inline_no_web_origin");
  let scans = 0;

  const controls = new Map(); // first input element -> control
  let rules = null;
  let pageState = null;
  let scanTimer = null;

  async function ask(type, payload = {}) {
    try {
      const reply = await ext.runtime.sendMessage({ type, ...payload, documentOrigin });
      if (!reply) return { error: { code: "host_unavailable", message: ns.t("inline_no_answer") } };
      return reply;
    } catch (err) {
      return { error: { code: "host_unavailable", message: ns.t("inline_unreachable", err.message) } };
    }
  }

  // The built-in rules draw the control at once; the user's and admin's rules follow from the service
  // worker, and a second scan applies them. Waiting for them first cost ~2 s on the first page after the
  // browser starts: Chromium's first storage.managed read takes that long (issue 12 item 8).
  let rulesAsked = false;
  function currentRules() {
    if (!rulesAsked) {
      rulesAsked = true;
      ask("page.rules").then((reply) => {
        rules = [...(reply.result ?? []), ...ns.BUILTIN_RULES];
        if ((reply.result ?? []).length) scheduleScan();
      });
    }
    return rules ?? ns.BUILTIN_RULES;
  }

  async function fill(control, entryId, { auto = false } = {}) {
    const { target } = control;
    if (refusal) {
      if (!auto) control.showMessage(REFUSAL_MESSAGE, "refused");
      return { ok: false, error: { code: refusal, message: REFUSAL_MESSAGE } };
    }
    if (ns.hasUserInput(target)) {
      if (!auto) control.showMessage(ns.t("err_field_has_input"), "refused");
      return { ok: false, error: { code: "field_has_input" } };
    }
    if (!auto) control.showMessage("", "busy");
    const type = target.kind === "backup" ? "page.backup_code" : "page.code";
    const reply = await ask(type, { entryId, auto });
    if (reply.error) {
      if (!auto && reply.error.code === "vault_locked") {
        control.showUnlock(reply.error.message, () => ask("page.open_unlock"));
      } else if (!auto) {
        // The service worker's own refusal of this document's origin reads like the local one.
        control.showMessage(reply.error.message, reply.error.code === "opaque_origin" ? "refused" : "error");
      }
      return { ok: false, error: reply.error };
    }
    if (reply.result.choose) {
      if (auto) return { ok: false, error: { code: "ambiguous_entry" } };
      control.showChoices(reply.result.choose);
      return { ok: false, error: { code: "ambiguous_entry", message: ns.t("inline_pick_on_page") } };
    }
    if (reply.result.just_used) return waitForNextCode(control, entryId, reply.result.next_in, auto);
    if (!ns.fillTarget(target, reply.result.code)) {
      control.showMessage(ns.t("err_field_has_input"), "refused");
      return { ok: false, error: { code: "field_has_input" } };
    }
    const left = reply.result.remaining;
    control.showMessage(target.kind === "backup" ? ns.t("inline_backup_filled", left) : "", "filled");
    if (pageState?.autoSubmit) setTimeout(() => ns.submitTarget(target), 50);
    return { ok: true };
  }

  // The code of this time step was already given to this site (a tracker takes each code once): say so,
  // count down, and fill the next code the moment it exists. One wait per control; a click meanwhile
  // changes nothing.
  function waitForNextCode(control, entryId, nextIn, auto) {
    if (control.waiting) return control.waiting;
    const due = Date.now() + nextIn * 1000;
    control.showWaiting(nextIn);
    const ticker = setInterval(() => control.showWaiting((due - Date.now()) / 1000), 1000);
    control.waiting = new Promise((resolve) => {
      setTimeout(() => {
        clearInterval(ticker);
        control.waiting = null;
        // A little past the boundary, so the host's clock is in the new step too.
        fill(control, entryId, { auto }).then(resolve);
      }, nextIn * 1000 + 250);
    });
    return control.waiting;
  }

  // Each finished scan of the laid-out document (detection, then any auto-fill) is counted; with the test
  // switch on (`testHooks: true` in the extension's local storage, set by the browser tests only) the count
  // is written to `data-tracker2fa-scanned` on the root element, the signal tests wait for before asserting
  // that nothing happened on a page. Never otherwise: an attribute of ours on every page would tell every
  // site that the extension is installed.
  let testHooks = false;
  const markScanned = () => {
    if (testHooks && scans > 0) document.documentElement.dataset.tracker2faScanned = String(scans);
  };
  ext.storage.local.get("testHooks").then((stored) => {
    testHooks = stored?.testHooks === true;
    markScanned();
  }, () => {});
  // A document not laid out yet (a frame still 0×0, or not yet rendered) has no visible field to find: its
  // scan waits for the first layout, which the ResizeObserver below reports.
  const laidOut = () =>
    innerWidth > 0 && innerHeight > 0 && document.documentElement.getClientRects().length > 0;

  async function scan() {
    scanTimer = null;
    if (!laidOut()) return;
    try {
      await scanOnce();
    } finally {
      scans += 1;
      markScanned();
    }
  }

  async function scanOnce() {
    for (const [el, control] of controls) {
      if (!el.isConnected) {
        control.remove();
        controls.delete(el);
      }
    }
    const targets = ns.findTargets(document, currentRules(), location.href);
    const fresh = [];
    for (const target of targets) {
      const key = target.inputs[0];
      if (controls.has(key)) continue;
      const control = ns.createControl(target, (entryId) => fill(control, entryId));
      if (refusal) control.markRefused(REFUSAL_MESSAGE);
      controls.set(key, control);
      fresh.push(control);
    }
    if (fresh.length === 0 || refusal) return;
    const reply = await ask("page.state");
    pageState = reply.result ?? null;
    if (!pageState?.autoFill || pageState.entries.length !== 1) return;
    for (const control of fresh) {
      if (control.target.kind === "code" && !ns.hasUserInput(control.target)) await fill(control, pageState.entries[0].id, { auto: true });
    }
  }

  function scheduleScan() {
    if (scanTimer === null) scanTimer = setTimeout(scan, 150);
  }

  function reposition() {
    for (const control of controls.values()) control.position();
  }

  ext.runtime.onMessage.addListener((msg, _sender, sendResponse) => {
    if (msg?.type !== "fill.request") return false;
    const control = [...controls.values()].find((c) => c.target.kind === "code") ?? [...controls.values()][0];
    if (!control) {
      sendResponse({ ok: false, error: { code: "no_field", message: ns.t("err_no_field") } });
      return false;
    }
    fill(control, msg.entryId ?? null).then(sendResponse);
    return true;
  });

  const isOurs = (node) => node instanceof Element && node.hasAttribute("data-tracker2fa-fill");
  new MutationObserver((records) => {
    // Our own controls moving or appearing are not page changes.
    const ours = (r) =>
      r.type === "attributes" ? isOurs(r.target) : [...r.addedNodes, ...r.removedNodes].every(isOurs);
    if (records.every(ours)) return;
    scheduleScan();
  }).observe(document.documentElement, {
    childList: true,
    subtree: true,
    attributes: true,
    attributeFilter: ["type", "name", "autocomplete", "style", "class", "hidden", "maxlength"],
  });
  new ResizeObserver(scheduleScan).observe(document.documentElement);
  addEventListener("resize", reposition);
  addEventListener("scroll", reposition, true);
  scan();
})();
