// The PIN form of the security-key prompt: an extension page framed by the prompt in the tab, so the web
// page can neither read the keys typed here nor submit it. The PIN goes to the service worker (fido.pin,
// for the request named by the token in the URL's fragment) and from there to the host; it is never stored
// or logged.
import { callBackground } from "../common/api.js";
import { localize, t } from "../common/i18n.js";

const token = location.hash.slice(1);
const $ = (id) => document.getElementById(id);
localize();

async function send(pin) {
  $("pin-problem").textContent = "";
  try {
    await callBackground("fido.pin", { token, pin });
    $("pin").value = "";
    $("pin-form").hidden = true;
    $("pin-problem").textContent = pin === null ? "" : t("prompt_pin_checking");
  } catch (err) {
    $("pin-problem").textContent = err.message;
  }
}

$("pin-form").addEventListener("submit", (event) => {
  event.preventDefault();
  send($("pin").value);
});
$("pin-decline").addEventListener("click", () => send(null));
$("pin").focus();
