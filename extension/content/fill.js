// Filling a code the way a person typing would: the native value setter (so React/Angular value
// trackers see a change) plus keydown/input/keyup/change events. Never over what the user typed.
(() => {
  const ns = (globalThis.__tracker2fa ??= {});
  // What this extension last put into each field; anything else in a field is the user's input.
  const filledByUs = new WeakMap();

  function nativeSetValue(el, value) {
    const proto = el instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
    const setter = Object.getOwnPropertyDescriptor(proto, "value").set;
    setter.call(el, value);
  }

  function key(el, type, ch) {
    el.dispatchEvent(
      new KeyboardEvent(type, { key: ch, code: /\d/.test(ch) ? `Digit${ch}` : "", bubbles: true, cancelable: true, composed: true }),
    );
  }

  function typeValue(el, value) {
    el.focus();
    const last = value.slice(-1);
    key(el, "keydown", last);
    key(el, "keypress", last);
    nativeSetValue(el, value);
    el.dispatchEvent(new InputEvent("input", { bubbles: true, composed: true, inputType: "insertText", data: value }));
    key(el, "keyup", last);
    el.dispatchEvent(new Event("change", { bubbles: true }));
    filledByUs.set(el, value);
  }

  /** True when some input of the target holds text this extension did not put there. */
  ns.hasUserInput = (target) =>
    target.inputs.some((el) => el.value !== "" && filledByUs.get(el) !== el.value);

  /** Fill `code` into the target (one field, or one digit per box). Returns false if refused. */
  ns.fillTarget = (target, code) => {
    if (ns.hasUserInput(target)) return false;
    if (target.boxes) {
      const digits = [...code];
      target.inputs.forEach((el, i) => typeValue(el, digits[i] ?? ""));
      target.inputs[Math.min(digits.length, target.inputs.length) - 1]?.focus();
    } else {
      typeValue(target.inputs[0], code);
    }
    return true;
  };

  /** Submit the form holding the target: the rule's submit button, else the form's own submit. */
  ns.submitTarget = (target) => {
    const el = target.inputs[0];
    const doc = el.ownerDocument;
    const button = target.rule?.submitSelector ? ns.safeQueryAll(doc, target.rule.submitSelector)[0] : null;
    if (button) {
      button.click();
      return true;
    }
    const form = el.form ?? el.closest("form");
    if (form) {
      form.requestSubmit();
      return true;
    }
    return false;
  };
})();
