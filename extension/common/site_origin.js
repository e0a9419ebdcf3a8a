// Whether a line typed into one of the options page's lists of trackers is the origin of a site one can log
// in at — the same rule as the host's `bindable_origin` (native_host/origins.py) for vault bindings. A list
// entry is matched exactly, so one no page can have (`https://jira.example,com`, `https://jira..example.com`,
// `https://*.example.com`) is a typing mistake that would silently never apply: it is refused, with the
// origin meant where one respelling is evident. Pure: no browser API beyond URL.

const LDH = /^[a-z0-9_-]+$/; // a label after IDNA (the URL parser writes hosts in lower-case ASCII)
const IPV4 = /^\d+(\.\d+){3}$/;

/** The origin a mistyped host most likely meant (commas/semicolons for dots, runs of dots as one, no dot or
 * hyphen at a label's ends), or null when that does not give a site origin. */
function meantOrigin(url) {
  const fixed = url.hostname.replace(/[,;]/g, ".").replace(/\.{2,}/g, ".").replace(/^\.+|\.+$/g, "")
    .split(".").map((label) => label.replace(/^-+|-+$/g, "")).join(".");
  if (!fixed || fixed === url.hostname) return null;
  try {
    const candidate = new URL(`${url.protocol}//${fixed}${url.port ? `:${url.port}` : ""}`);
    return problemOf(candidate) === null ? candidate.origin : null;
  } catch {
    return null;
  }
}

/** What is wrong with a parsed http(s) URL's host as a site's, as [message key, substitution] or null. */
function problemOf(url) {
  const host = url.hostname;
  if (host.startsWith("[") || IPV4.test(host)) return null; // an IP address, written as the browser writes it
  if (host.includes("*")) return ["options_origin_wildcard"];
  const labels = host.split(".");
  if (host.endsWith(".")) return ["options_origin_trailing_dot"];
  if (labels.includes("")) return ["options_origin_empty_label"];
  const bad = [...host].find((c) => c !== "." && !LDH.test(c));
  if (bad !== undefined) return ["options_origin_bad_character", bad];
  if (labels.some((l) => l.length > 63) || host.length > 253) return ["options_origin_too_long"];
  if (labels.some((l) => l.startsWith("-") || l.endsWith("-"))) return ["options_origin_hyphen"];
  return null;
}

/**
 * `{origin}` for a line that is the origin of a site (http or https), or `{problem: [key, line, ...subs],
 * meant?}`: the reason as an i18n message key with its substitutions (the line first), and the origin meant
 * when evident.
 */
export function siteOrigin(line) {
  let url;
  try {
    url = new URL(line);
  } catch {
    return { problem: ["options_not_origin", line] };
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return { problem: ["options_not_http_origin", line] };
  const found = problemOf(url);
  if (found === null) return { origin: url.origin };
  const [key, ...subs] = found;
  const problem = [key, line, ...subs];
  const meant = meantOrigin(url);
  return meant === null ? { problem } : { problem, meant };
}
