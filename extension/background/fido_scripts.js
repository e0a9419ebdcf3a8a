// The security-key bridge's content scripts exist only on the trackers the user or admin chose
// (settings.securityKeyOrigins): they are registered at document_start, in both worlds, for those hosts,
// and registered again whenever the settings change. Elsewhere pages keep the browser's own WebAuthn and
// get no window.u2f.
import { effectiveSettings } from "../common/settings.js";
import { matchPattern } from "./fido.js";

const MAIN_ID = "tracker2fa-fido-main";
const ISOLATED_ID = "tracker2fa-fido-isolated";

/** The two registrations for `origins` (empty when there are none). */
export function bridgeScripts(origins) {
  const matches = [...new Set(origins.map(matchPattern))].sort();
  if (matches.length === 0) return [];
  const common = { matches, runAt: "document_start", allFrames: true, persistAcrossSessions: true };
  return [
    { id: MAIN_ID, world: "MAIN", js: ["common/webauthn_json.js", "common/fido_reply.js", "content/fido_objects.js", "content/fido_page.js"], ...common },
    { id: ISOLATED_ID, world: "ISOLATED", js: ["common/fido_channel.js", "content/fido_bridge.js"], ...common },
  ];
}

let queue = Promise.resolve();

/** Bring the registered scripts in line with the settings (serialized: settings may change quickly). */
export function syncBridgeScripts(api) {
  const run = async () => {
    const { securityKeyOrigins } = await effectiveSettings();
    const wanted = bridgeScripts(securityKeyOrigins);
    const current = await api.scripting.getRegisteredContentScripts({ ids: [MAIN_ID, ISOLATED_ID] });
    if (current.length) await api.scripting.unregisterContentScripts({ ids: current.map((s) => s.id) });
    if (wanted.length) await api.scripting.registerContentScripts(wanted);
    return { matches: wanted[0]?.matches ?? [] };
  };
  const next = queue.then(run, run);
  queue = next.catch(() => {});
  return next;
}
