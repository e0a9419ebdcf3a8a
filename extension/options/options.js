// Options: site rules, auto-submit, auto-fill trackers (user values) and auto-lock (the host's setting).
// Values pushed by an administrator (storage.managed) win and are shown disabled.
import { callBackground } from "../common/api.js";
import { localize, t } from "../common/i18n.js";
import { selectValue } from "../common/select.js";
import { siteOrigin } from "../common/site_origin.js";
import { effectiveSettings, writeUser } from "../common/settings.js";

const $ = (id) => document.getElementById(id);
const FIELDS = ["name", "urlPattern", "fieldSelector", "submitSelector", "backupSelector"];

function ruleRow(rule, locked) {
  const tr = document.createElement("tr");
  if (locked) tr.className = "locked";
  for (const field of FIELDS) {
    const td = document.createElement("td");
    const input = document.createElement("input");
    input.type = "text";
    input.dataset.field = field;
    input.value = rule[field] ?? "";
    input.disabled = locked;
    input.setAttribute("aria-label", t(`rule_${field}`));
    td.append(input);
    tr.append(td);
  }
  const td = document.createElement("td");
  if (locked) td.textContent = t("options_rule_admin");
  else {
    const remove = document.createElement("button");
    remove.type = "button";
    remove.textContent = t("options_remove_rule");
    remove.addEventListener("click", () => tr.remove());
    td.append(remove);
  }
  tr.append(td);
  return tr;
}

/** Read the editable rows; throws with a clear message on an invalid pattern or selector. */
function collectRules() {
  const rules = [];
  for (const tr of document.querySelectorAll("#rules tbody tr:not(.locked)")) {
    const rule = {};
    for (const input of tr.querySelectorAll("input")) rule[input.dataset.field] = input.value.trim();
    if (!rule.fieldSelector) continue;
    try {
      new RegExp(rule.urlPattern);
    } catch {
      throw new Error(t("options_bad_pattern", rule.name));
    }
    for (const key of ["fieldSelector", "submitSelector", "backupSelector"]) {
      try {
        if (rule[key]) document.createDocumentFragment().querySelector(rule[key]);
      } catch {
        throw new Error(t("options_bad_selector", rule.name, t(`rule_${key}`)));
      }
    }
    rules.push(rule);
  }
  return rules;
}

// Each line must be a site's origin (common/site_origin.js: the host's rule for bindings); a typo is refused
// with the origin meant, since an exact match that no page can have would silently never apply.
function collectOrigins(id = "auto-fill-origins") {
  const origins = [];
  for (const line of $(id).value.split(/\s+/).filter(Boolean)) {
    const { origin, problem, meant } = siteOrigin(line);
    if (problem) throw new Error(t(...problem) + (meant ? t("options_origin_did_you_mean", meant) : ""));
    origins.push(origin);
  }
  return origins;
}

async function main() {
  localize();
  const settings = await effectiveSettings();
  const { user, locked } = settings;
  const anyManaged = Object.keys(settings.managed).length > 0;
  $("managed-note").hidden = !anyManaged;

  $("auto-submit").checked = settings.autoSubmit;
  $("auto-submit").disabled = locked.autoSubmit;
  $("auto-submit-managed").hidden = !locked.autoSubmit;

  $("auto-fill-origins").value = (user.autoFillOrigins ?? []).join("\n");
  if (locked.autoFill) {
    $("auto-fill-managed").hidden = false;
    $("auto-fill-managed").textContent = settings.managed.autoFill
      ? t("options_admin_auto_fill_on", settings.trackerOrigins.join(", ") || t("options_no_origins"))
      : t("options_admin_auto_fill_off");
    $("auto-fill-origins").disabled = settings.managed.autoFill === false;
  }

  $("security-key-origins").value = (user.securityKeyOrigins ?? []).join("\n");
  const managedKeys = Array.isArray(settings.managed.securityKeyTrackers) ? settings.managed.securityKeyTrackers : [];
  if (managedKeys.length) {
    $("security-key-managed").hidden = false;
    $("security-key-managed").textContent = t("options_admin_also", managedKeys.join(", "));
  }

  $("ahead-origins").value = (user.aheadOrigins ?? []).join("\n");
  const managedAhead = Array.isArray(settings.managed.nextCodeTrackers) ? settings.managed.nextCodeTrackers : [];
  if (managedAhead.length) {
    $("ahead-managed").hidden = false;
    $("ahead-managed").textContent = t("options_admin_also", managedAhead.join(", "));
  }

  const tbody = document.querySelector("#rules tbody");
  for (const rule of settings.siteRules) tbody.append(ruleRow(rule, rule.source === "admin"));
  $("add-rule").addEventListener("click", () => tbody.append(ruleRow({}, false)));

  $("auto-lock").disabled = locked.autoLockSeconds;
  $("auto-lock-managed").hidden = !locked.autoLockSeconds;
  try {
    const current = locked.autoLockSeconds
      ? { auto_lock_seconds: settings.autoLockSeconds }
      : await callBackground("ext.request", { method: "settings.get", params: {} });
    selectValue($("auto-lock"), current.auto_lock_seconds ?? 0, t("lock_seconds", current.auto_lock_seconds ?? 0));
  } catch (err) {
    $("auto-lock-problem").textContent = err.message;
  }

  $("save").addEventListener("click", async () => {
    try {
      const patch = {
        siteRules: collectRules(),
        autoFillOrigins: collectOrigins(),
        securityKeyOrigins: collectOrigins("security-key-origins"),
        aheadOrigins: collectOrigins("ahead-origins"),
      };
      if (!locked.autoSubmit) patch.autoSubmit = $("auto-submit").checked;
      await writeUser(patch);
      if (!locked.autoLockSeconds) {
        await callBackground("ext.request", {
          method: "settings.set",
          params: { auto_lock_seconds: Number($("auto-lock").value) },
        }).catch((err) => ($("auto-lock-problem").textContent = err.message));
      }
      $("saved").textContent = t("options_saved");
      $("saved").dataset.state = "saved";
    } catch (err) {
      $("saved").textContent = err.message;
      $("saved").dataset.state = "error";
    }
  });
  document.body.dataset.ready = "true";
}

main();
