// Finding second-factor code fields: site rules first, then generic heuristics, then groups of
// one-digit boxes. Pure DOM reading; nothing here changes the page.
(() => {
  const ns = (globalThis.__tracker2fa ??= {});

  const TEXT_TYPES = new Set(["text", "number", "tel", "password", ""]);
  const KEYWORDS = /otp|totp|2fa|two.?factor|mfa|one.?time|code|token|verif|passcode|auth.?app/i;
  const BACKUP_WORDS = /backup|recovery|scratch/i;
  // Fields that contain "code" or "token" but are not second factors.
  const EXCLUDED = /zip|post.?code|postal|promo|coupon|discount|gift|voucher|captcha|country|area.?code|phone|referr|invit|search|e-?mail|user.?name|login|api.?token|token.?name|qr.?code|source.?code|color/i;

  function isVisible(el) {
    if (el.disabled || el.readOnly || el.type === "hidden") return false;
    const style = getComputedStyle(el);
    if (style.visibility === "hidden" || style.display === "none") return false;
    return el.getClientRects().length > 0;
  }

  function labelText(el) {
    const parts = [];
    for (const label of el.labels ?? []) parts.push(label.textContent);
    const labelledBy = el.getAttribute("aria-labelledby");
    if (labelledBy) {
      for (const id of labelledBy.split(/\s+/)) parts.push(el.ownerDocument.getElementById(id)?.textContent ?? "");
    }
    return parts.join(" ");
  }

  /** Everything that names a field: name, id, placeholder, aria-label, autocomplete, its labels. */
  ns.fieldSignature = (el) =>
    [el.name, el.id, el.placeholder, el.getAttribute("aria-label"), el.autocomplete, el.className, labelText(el)]
      .filter(Boolean)
      .join(" ");

  function isTextLike(el) {
    return el instanceof HTMLInputElement && TEXT_TYPES.has((el.getAttribute("type") ?? "").toLowerCase());
  }

  /** Generic heuristic for a single code field. Returns "code", "backup" or null. */
  ns.classifyField = (el) => {
    if (!isTextLike(el)) return null;
    const signature = ns.fieldSignature(el);
    const oneTime = /one-time-code/i.test(el.getAttribute("autocomplete") ?? "");
    if (!oneTime) {
      if (!KEYWORDS.test(signature) || EXCLUDED.test(signature)) return null;
      if (el.type === "password" && !/otp|totp|2fa|mfa|code|token|verif|passcode/i.test(signature)) return null;
    }
    if (el.maxLength === 1) return null; // a one-digit box: handled as part of a group
    return BACKUP_WORDS.test(signature) ? "backup" : "code";
  };

  /** Groups of 4–8 adjacent one-character inputs (the "six boxes" pattern), in document order. */
  ns.findBoxGroups = (root) => {
    const boxes = [...root.querySelectorAll("input")].filter(
      (el) => isTextLike(el) && (el.maxLength === 1 || el.size === 1) && isVisible(el),
    );
    const groups = [];
    let run = [];
    const container = (el) => el.parentElement?.childElementCount > 1 ? el.parentElement : el.parentElement?.parentElement;
    for (const box of boxes) {
      const last = run[run.length - 1];
      if (last && container(last) === container(box)) run.push(box);
      else {
        if (run.length) groups.push(run);
        run = [box];
      }
    }
    if (run.length) groups.push(run);
    return groups.filter((g) => g.length >= 4 && g.length <= 8);
  };

  /**
   * All second-factor targets in `root`:
   * {inputs: [HTMLInputElement], kind: "code"|"backup", boxes: bool, rule: rule|null}.
   */
  ns.findTargets = (root, rules, href) => {
    const targets = [];
    const seen = new Set();
    const add = (inputs, kind, boxes, rule) => {
      if (inputs.some((el) => seen.has(el))) return;
      for (const el of inputs) seen.add(el);
      targets.push({ inputs, kind, boxes, rule });
    };
    for (const rule of rules) {
      if (!ns.ruleApplies(rule, href)) continue;
      for (const el of ns.safeQueryAll(root, rule.fieldSelector)) {
        if (isTextLike(el) && isVisible(el)) add([el], "code", false, rule);
      }
      for (const el of ns.safeQueryAll(root, rule.backupSelector)) {
        if (isTextLike(el) && isVisible(el)) add([el], "backup", false, rule);
      }
    }
    for (const group of ns.findBoxGroups(root)) add(group, "code", true, null);
    for (const el of root.querySelectorAll("input")) {
      if (seen.has(el) || !isVisible(el)) continue;
      const kind = ns.classifyField(el);
      if (kind) add([el], kind, false, null);
    }
    return targets;
  };
})();
