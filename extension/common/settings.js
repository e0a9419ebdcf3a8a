// User settings (storage.local) merged with admin settings (storage.managed): managed values win,
// and the options page shows them locked.
import { api } from "./api.js";

export const USER_DEFAULTS = Object.freeze({
  autoSubmit: false,
  autoFillOrigins: [],
  siteRules: [],
  securityKeyOrigins: [],
  aheadOrigins: [], // trackers that accept the next time step's code (filled at once; issue 12)
});

/** Admin-pushed settings; {} when there are none (Firefox throws without a managed manifest). */
export async function readManaged() {
  try {
    return (await api.storage.managed.get(null)) ?? {};
  } catch {
    return {};
  }
}

export async function readUser() {
  const { settings } = await api.storage.local.get("settings");
  return { ...USER_DEFAULTS, ...(settings ?? {}) };
}

export async function writeUser(patch) {
  const current = await readUser();
  await api.storage.local.set({ settings: { ...current, ...patch } });
}

function originsOf(list) {
  const out = [];
  for (const value of Array.isArray(list) ? list : []) {
    try {
      const url = new URL(String(value));
      if (url.protocol === "http:" || url.protocol === "https:") out.push(url.origin);
    } catch {
      // An invalid origin in a list is skipped; the options page rejects them on entry.
    }
  }
  return out;
}

function validRules(list, source) {
  return (Array.isArray(list) ? list : [])
    .filter((r) => r && typeof r === "object" && typeof r.fieldSelector === "string" && r.fieldSelector)
    .map((r) => ({
      name: String(r.name ?? "custom rule"),
      urlPattern: String(r.urlPattern ?? ""),
      fieldSelector: r.fieldSelector,
      submitSelector: String(r.submitSelector ?? ""),
      backupSelector: String(r.backupSelector ?? ""),
      source,
    }));
}

/** Merge user and managed settings. Returns values plus which keys are locked by the admin. */
export function mergeSettings(user, managed) {
  const locked = {
    autoSubmit: typeof managed.autoSubmit === "boolean",
    autoFill: typeof managed.autoFill === "boolean",
    autoLockSeconds: Number.isInteger(managed.autoLockSeconds),
  };
  let autoFillOrigins = originsOf(user.autoFillOrigins);
  if (managed.autoFill === true) autoFillOrigins = [...new Set([...originsOf(managed.trackerOrigins), ...autoFillOrigins])];
  if (managed.autoFill === false) autoFillOrigins = [];
  return {
    autoSubmit: locked.autoSubmit ? managed.autoSubmit : Boolean(user.autoSubmit),
    autoFillOrigins,
    trackerOrigins: originsOf(managed.trackerOrigins),
    allowExport: typeof managed.allowExport === "boolean" ? managed.allowExport : true,
    autoLockSeconds: locked.autoLockSeconds ? managed.autoLockSeconds : null,
    siteRules: [...validRules(managed.siteRules, "admin"), ...validRules(user.siteRules, "user")],
    // Trackers where security keys go through the host (the admin's list plus the user's own).
    securityKeyOrigins: [...new Set([...originsOf(managed.securityKeyTrackers), ...originsOf(user.securityKeyOrigins)])],
    // Trackers known to accept one step ahead: the admin's list plus the user's own (off unless listed).
    aheadOrigins: [...new Set([...originsOf(managed.nextCodeTrackers), ...originsOf(user.aheadOrigins)])],
    locked,
  };
}

export async function effectiveSettings() {
  const [user, managed] = await Promise.all([readUser(), readManaged()]);
  return { ...mergeSettings(user, managed), user, managed };
}
