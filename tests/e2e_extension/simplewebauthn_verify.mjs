// Verifies a registration and an assertion with @simplewebauthn/server (npm, installed into .tools by
// scripts/test.sh): a relying party we did not write. Reads one JSON object on stdin
// ({origin, rpID, registration, registrationChallenge, assertion, assertionChallenge}; challenges in
// base64url) and prints what the library concluded; a refusal is printed as {error}, never thrown away.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const require = createRequire(path.join(root, ".tools", "package.json"));
const { verifyRegistrationResponse, verifyAuthenticationResponse } = require("@simplewebauthn/server");

const input = JSON.parse(readFileSync(0, "utf8"));
const common = { expectedOrigin: input.origin, expectedRPID: input.rpID, requireUserVerification: false };
try {
  const registered = await verifyRegistrationResponse({
    ...common, response: input.registration, expectedChallenge: input.registrationChallenge,
  });
  const credential = registered.registrationInfo.credential;
  const authenticated = await verifyAuthenticationResponse({
    ...common, response: input.assertion, expectedChallenge: input.assertionChallenge,
    credential: { id: credential.id, publicKey: credential.publicKey, counter: credential.counter },
  });
  console.log(JSON.stringify({
    registered: registered.verified, credentialId: credential.id, fmt: registered.registrationInfo.fmt,
    authenticated: authenticated.verified, counter: credential.counter,
    newCounter: authenticated.authenticationInfo.newCounter,
  }));
} catch (error) {
  console.log(JSON.stringify({ error: String(error?.message ?? error) }));
}
