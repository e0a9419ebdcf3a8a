// Security-key requests the bridge declined because security keys are off for the requesting site: its
// host is one of the chosen trackers (so the bridge is in the page: match patterns carry no port) but its
// exact origin is not (e.g. the mock tracker on another port). The page then gets the browser's own WebAuthn,
// or U2F error 3, as if tracker2fa were not there. The user is told where they look — the toolbar button's
// badge and tooltip for that tab, and a line in the popup with a button that turns security keys on for the
// site — never in the page, which is hostile and must not learn that the extension exists.
import { readUser, writeUser } from "../common/settings.js";
import { t } from "../common/i18n.js";

export const DECLINED_BADGE = "🔑";

export class DeclinedRequests {
  constructor(api) {
    this.api = api;
    this.byTab = new Map(); // tabId -> the origin whose request was declined (the last one)
    api.tabs.onRemoved.addListener((tabId) => this.byTab.delete(tabId));
    api.tabs.onUpdated.addListener((tabId, info) => {
      if (info.status === "loading" && this.byTab.has(tabId)) this.clear(tabId);
    });
  }

  /** A request from `origin` in tab `tabId` was declined: security keys are off for that origin. */
  note(tabId, origin) {
    if (tabId === undefined || tabId === null) return;
    this.byTab.set(tabId, origin);
    this.api.action.setBadgeText({ tabId, text: DECLINED_BADGE }).catch(() => {});
    this.api.action.setTitle({ tabId, title: t("popup_fido_declined_title", origin) }).catch(() => {});
  }

  /** The origin declined in `tabId`, or null. */
  forTab(tabId) {
    return this.byTab.get(tabId) ?? null;
  }

  clear(tabId) {
    this.byTab.delete(tabId);
    // null: back to the global badge (the lock) and the default tooltip.
    this.api.action.setBadgeText({ tabId, text: null }).catch(() => {});
    this.api.action.setTitle({ tabId, title: this.api.runtime.getManifest().action?.default_title ?? "tracker2fa" })
      .catch(() => {});
  }

  /**
   * Turn security keys on for the origin declined in `tabId` (the user's list in the options, as if typed
   * there). The bridge is already in that page, so the site's next request goes to the host.
   */
  async enable(tabId) {
    const origin = this.forTab(tabId);
    if (origin === null) return { origin: null };
    const user = await readUser();
    const list = Array.isArray(user.securityKeyOrigins) ? user.securityKeyOrigins : [];
    if (!list.includes(origin)) await writeUser({ securityKeyOrigins: [...list, origin] });
    this.clear(tabId);
    return { origin };
  }
}
