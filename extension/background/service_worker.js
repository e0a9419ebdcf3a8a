// The service worker: owns the native port, answers content scripts (origin from the browser only)
// and the extension's own pages (popup, options), and runs the keyboard command.
import { api } from "../common/api.js";
import { userMessage } from "../common/messages.js";
import { effectiveSettings } from "../common/settings.js";
import { DeclinedRequests } from "./declined.js";
import { FidoBridge } from "./fido.js";
import { syncBridgeScripts } from "./fido_scripts.js";
import { HostConnection, HostError } from "./host.js";
import { senderOriginDecision, urlOrigin } from "./origin.js";

const host = new HostConnection((name) => api.runtime.connectNative(name));
const declined = new DeclinedRequests(api);
const fido = new FidoBridge(api, host, declined);
// tabId -> Set of frameIds whose content script found a code field (where "fill" requests go).
const fieldFrames = new Map();

// Methods the popup and options page may call directly. vault.code is absent on purpose: a code for
// a page is only ever produced for the origin the browser reports for that page's frame.
const EXTENSION_PAGE_METHODS = new Set([
  "hello", "vault.status", "vault.unlock", "vault.lock", "vault.entries", "vault.copy_code",
  "vault.add", "vault.update", "vault.remove", "vault.bind", "settings.get", "settings.set",
]);

// The host id of a running vault.unlock {"method": "security_key"} (one at a time; the popup cancels it).
let keyUnlockId = null;

host.onEvent((event) => {
  if (event.event === "vault.locked" || event.event === "vault.unlocked") {
    updateBadge(event.event === "vault.locked");
    api.runtime.sendMessage({ type: "host.event", event }).catch(() => {});
  }
  // "Touch your security key" for the popup's key unlock (its own request id only: never a page's ceremony).
  if (keyUnlockId !== null && event.id === keyUnlockId && typeof event.event === "string" && event.event.startsWith("fido.")) {
    api.runtime.sendMessage({ type: "key.unlock.event", event: event.event }).catch(() => {});
  }
});

// vault.unlock {"method": "security_key"}: waits for a touch (the host's own 60 s timeout ends it first).
async function unlockWithKey() {
  if (keyUnlockId !== null) fail("bad_request", "a security-key unlock is already waiting");
  try {
    const result = await host.request("vault.unlock", { method: "security_key" }, {
      timeoutMs: 120000,
      onSent: (id) => {
        keyUnlockId = id;
      },
    });
    updateBadge(false);
    applyManagedAutoLock().catch(() => {});
    return result;
  } finally {
    keyUnlockId = null;
  }
}

async function cancelKeyUnlock() {
  if (keyUnlockId === null) return { cancelled: false };
  return host.request("cancel", { target: keyUnlockId });
}

function updateBadge(locked) {
  api.action.setBadgeText({ text: locked ? "🔒" : "" }).catch(() => {});
}

function errorReply(err) {
  const code = err?.code ?? "internal_error";
  return { error: { code, message: userMessage(code, err?.message), detail: err?.message ?? "" } };
}

function fail(code, detail) {
  throw new HostError(code, detail ?? userMessage(code));
}

function isExtensionPage(sender) {
  return sender.id === api.runtime.id && typeof sender.url === "string" && sender.url.startsWith(api.runtime.getURL(""));
}

async function status() {
  // autoConfirmed: security-key requests the virtual test key confirmed without asking (the popup says so).
  const out = { host: null, vault: null, error: null, connections: host.connections, autoConfirmed: fido.autoConfirmed };
  try {
    out.host = await host.request("hello", {});
    out.vault = await host.request("vault.status", {});
  } catch (err) {
    out.error = { code: err.code ?? "internal_error", message: userMessage(err.code, err.message) };
  }
  return out;
}

// ---- content scripts: everything is for the sender's own origin ----

// The sender's origin, or a refusal: an opaque origin (sandboxed document, srcdoc or data: frame) never
// gets anything, whatever its URL (common/origin_policy.js decides; `documentOrigin` is what the content
// script read from `self.origin`, which may only refuse or confirm).
function originOrFail(sender, documentOrigin) {
  const decision = senderOriginDecision(sender, documentOrigin);
  if (decision.refused) fail(decision.refused);
  return decision.origin;
}

async function pageState(sender, msg) {
  const origin = originOrFail(sender, msg.documentOrigin);
  if (sender.tab?.id !== undefined && sender.frameId !== undefined) {
    if (!fieldFrames.has(sender.tab.id)) fieldFrames.set(sender.tab.id, new Set());
    fieldFrames.get(sender.tab.id).add(sender.frameId);
  }
  const settings = await effectiveSettings();
  const state = {
    origin,
    autoSubmit: settings.autoSubmit,
    autoFill: settings.autoFillOrigins.includes(origin),
    entries: [],
    error: null,
  };
  try {
    const { entries } = await host.request("vault.entries", { origin });
    state.entries = entries.map((e) => ({ id: e.id, label: e.label, backup_codes_left: e.backup_codes_left }));
  } catch (err) {
    state.error = { code: err.code, message: userMessage(err.code, err.message) };
  }
  return state;
}

async function siteRules() {
  return (await effectiveSettings()).siteRules;
}

async function pageCode(sender, msg) {
  const { entryId, auto } = msg;
  const origin = originOrFail(sender, msg.documentOrigin);
  if (auto) {
    const settings = await effectiveSettings();
    if (!settings.autoFillOrigins.includes(origin)) fail("auto_fill_not_allowed");
  }
  let id = entryId;
  if (!id) {
    const { entries } = await host.request("vault.entries", { origin });
    if (entries.length === 0) fail("no_entry_for_origin");
    if (entries.length > 1) {
      return { choose: entries.map((e) => ({ id: e.id, label: e.label })) };
    }
    id = entries[0].id;
  }
  const ahead = (await effectiveSettings()).aheadOrigins.includes(origin); // accepts the next step's code
  return host.request("vault.code", { id: String(id), origin, ahead });
}

async function pageBackupCode(sender, msg) {
  const { entryId } = msg;
  const origin = originOrFail(sender, msg.documentOrigin);
  let id = entryId;
  if (!id) {
    const { entries } = await host.request("vault.entries", { origin });
    const withCodes = entries.filter((e) => e.backup_codes_left > 0);
    if (withCodes.length === 0) fail(entries.length ? "no_backup_codes" : "no_entry_for_origin");
    if (withCodes.length > 1) return { choose: withCodes.map((e) => ({ id: e.id, label: e.label })) };
    id = withCodes[0].id;
  }
  return host.request("vault.backup_code", { id: String(id), origin });
}

// The unlock form in a tab next to the page (a content script cannot open the toolbar popup); after
// unlocking, the popup returns to the page's tab.
async function openUnlock(sender) {
  const tabId = sender.tab?.id;
  if (tabId === undefined) fail("invalid_origin");
  const url = api.runtime.getURL(`popup/popup.html?tab=${tabId}&return=1`);
  await api.tabs.create({ url, index: (sender.tab.index ?? 0) + 1, windowId: sender.tab.windowId });
  return { opened: true };
}

// ---- extension pages ----

async function fillTab(tabId, entryId) {
  const frames = [...(fieldFrames.get(tabId) ?? [])].sort((a, b) => a - b);
  if (frames.length === 0) frames.push(0);
  let lastError = { code: "no_field" };
  for (const frameId of frames) {
    try {
      const reply = await api.tabs.sendMessage(tabId, { type: "fill.request", entryId: entryId ?? null }, { frameId });
      if (reply?.ok) return reply;
      if (reply?.error) lastError = reply.error;
    } catch {
      // That frame is gone or has no content script (e.g. a browser page); try the next one.
    }
  }
  fail(lastError.code, lastError.message);
}

async function handle(msg, sender) {
  switch (msg?.type) {
    case "page.state":
      return pageState(sender, msg);
    case "page.rules":
      return siteRules();
    case "page.code":
      return pageCode(sender, msg);
    case "page.backup_code":
      return pageBackupCode(sender, msg);
    case "page.open_unlock":
      return openUnlock(sender);
    default:
      break;
  }
  if (!isExtensionPage(sender)) fail("forbidden_caller", `unknown or forbidden message ${String(msg?.type)}`);
  switch (msg.type) {
    case "ext.status":
      return status();
    case "ext.request": {
      if (!EXTENSION_PAGE_METHODS.has(msg.method)) fail("unknown_method", `not allowed: ${msg.method}`);
      const timeoutMs = msg.method === "vault.unlock" ? 120000 : undefined;
      const result = await host.request(msg.method, msg.params ?? {}, { timeoutMs });
      if (msg.method === "vault.unlock" || msg.method === "vault.lock") updateBadge(msg.method === "vault.lock");
      if (msg.method === "vault.unlock") applyManagedAutoLock().catch(() => {});
      return result;
    }
    case "ext.returnToTab": {
      const tabId = Number(msg.tabId);
      await api.tabs.update(tabId, { active: true });
      if (sender.tab?.id !== undefined && sender.tab.id !== tabId) await api.tabs.remove(sender.tab.id);
      return { returned: true };
    }
    case "ext.unlockWithKey":
      return unlockWithKey();
    case "ext.cancelKeyUnlock":
      return cancelKeyUnlock();
    case "ext.fillTab":
      return fillTab(Number(msg.tabId), msg.entryId);
    case "ext.tabOrigin": {
      const tab = await api.tabs.get(Number(msg.tabId));
      return { origin: urlOrigin(tab.url), url: tab.url, windowId: tab.windowId, title: tab.title };
    }
    case "ext.capture": {
      const tab = await api.tabs.get(Number(msg.tabId));
      return { dataUrl: await api.tabs.captureVisibleTab(tab.windowId, { format: "png" }) };
    }
    case "ext.applyManagedAutoLock":
      return applyManagedAutoLock();
    case "ext.fidoDeclined":
      return { origin: declined.forTab(Number(msg.tabId)) };
    case "ext.enableSecurityKeys":
      return declined.enable(Number(msg.tabId));
    default:
      fail("unknown_method", `unknown message ${String(msg.type)}`);
  }
}

api.runtime.onMessage.addListener((msg, sender, sendResponse) => {
  handle(msg, sender).then(
    (result) => sendResponse({ result }),
    (err) => sendResponse(errorReply(err)),
  );
  return true; // the reply is sent asynchronously
});

api.commands?.onCommand.addListener(async (command, tab) => {
  if (command !== "fill-code") return;
  const target = tab ?? (await api.tabs.query({ active: true, currentWindow: true }))[0];
  if (target?.id !== undefined) fillTab(target.id, null).catch(() => {});
});

api.tabs.onRemoved.addListener((tabId) => fieldFrames.delete(tabId));
api.tabs.onUpdated.addListener((tabId, info) => {
  if (info.status === "loading") fieldFrames.delete(tabId);
});

// An admin-set auto-lock time is pushed to the host (managed overrides user).
async function applyManagedAutoLock() {
  const settings = await effectiveSettings();
  if (settings.autoLockSeconds === null) return { applied: false };
  await host.request("settings.set", { auto_lock_seconds: settings.autoLockSeconds });
  return { applied: true };
}

// The security-key bridge's scripts follow the settings (registrations persist; this also repairs them).
const syncFidoScripts = () => syncBridgeScripts(api).catch((err) => console.error("tracker2fa: security-key scripts", err));
api.storage.onChanged.addListener((changes, area) => {
  if (area === "managed" || (area === "local" && "settings" in changes)) syncFidoScripts();
});
syncFidoScripts();

// For tests and debugging from the service worker console (an extension-only context).
globalThis.tracker2fa = { host, status, fieldFrames, fido, syncFidoScripts: () => syncBridgeScripts(api) };
