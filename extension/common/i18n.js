// Translations: every user-facing string of the extension's pages comes from _locales/ through
// chrome.i18n (the browser picks the UI language; English is the default_locale). HTML marks its strings
// with data-i18n="key" (text) and data-i18n-attr="attr:key;attr:key" (attributes).
import { api } from "./api.js";

/** The message `key` with its $1…$9 substitutions; the key itself when it is missing (a test checks none are). */
export function t(key, ...subs) {
  return api?.i18n?.getMessage(key, subs.map(String)) || key;
}

/** Fill every data-i18n / data-i18n-attr element under `root` and set the document's language. */
export function localize(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of el.dataset.i18nAttr.split(";")) {
      const [attr, key] = pair.split(":").map((s) => s.trim());
      if (attr && key) el.setAttribute(attr, t(key));
    }
  }
  const lang = api?.i18n?.getUILanguage?.();
  if (lang && root === document) document.documentElement.lang = lang.startsWith("de") ? "de" : "en";
}
