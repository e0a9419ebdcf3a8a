// Runs the extension's pure modules under Node for the Python tests: one JSON request per line on stdin
// ({"fn": name, "args": [...]}), one JSON reply per line on stdout ({"value": ...} or {"error": "..."}).
import { createInterface } from "node:readline";

const root = new URL("../../extension/", import.meta.url);
const origin = await import(new URL("background/origin.js", root));
const host = await import(new URL("background/host.js", root));
const settings = await import(new URL("common/settings.js", root));
const messages = await import(new URL("common/messages.js", root));
const siteOrigins = await import(new URL("common/site_origin.js", root));
await import(new URL("common/origin_policy.js", root)); // a plain script: it fills globalThis.__tracker2fa
const policy = globalThis.__tracker2fa;

// A fake native port: records what the extension posts, lets the test answer or drop the connection.
function fakePorts() {
  const ports = [];
  const connect = () => {
    const port = {
      posted: [],
      messageListeners: [],
      disconnectListeners: [],
      onMessage: { addListener: (f) => port.messageListeners.push(f) },
      onDisconnect: { addListener: (f) => port.disconnectListeners.push(f) },
      postMessage: (m) => port.posted.push(m),
      disconnect: () => {},
      reply: (m) => port.messageListeners.forEach((f) => f(m)),
      die: (message) => port.disconnectListeners.forEach((f) => f({ error: { message } })),
    };
    ports.push(port);
    return port;
  };
  return { ports, connect };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

// Scenarios for HostConnection, each returning an observable summary.
const scenarios = {
  async repliesMatchedById() {
    const { ports, connect } = fakePorts();
    const conn = new host.HostConnection(connect);
    const a = conn.request("hello");
    const b = conn.request("vault.status");
    const [pa, pb] = ports[0].posted;
    ports[0].reply({ id: pb.id, result: { which: "b" } });
    ports[0].reply({ id: pa.id, result: { which: "a" } });
    return { a: (await a).which, b: (await b).which, ids: [pa.id, pb.id], ports: ports.length };
  },
  async errorReplyBecomesHostError() {
    const { ports, connect } = fakePorts();
    const conn = new host.HostConnection(connect);
    const p = conn.request("vault.code", { id: "x", origin: "https://a.test" });
    ports[0].reply({ id: ports[0].posted[0].id, error: { code: "vault_locked", message: "locked" } });
    try {
      await p;
      return { rejected: false };
    } catch (err) {
      return { rejected: true, code: err.code };
    }
  },
  async timeoutSendsCancel() {
    const { ports, connect } = fakePorts();
    const conn = new host.HostConnection(connect, { timeoutMs: 5 });
    try {
      await conn.request("vault.unlock", { password: "x" });
      return { rejected: false };
    } catch (err) {
      const cancel = ports[0].posted.find((m) => m.method === "cancel");
      return { rejected: true, code: err.code, cancelTarget: cancel?.params.target, first: ports[0].posted[0].id };
    }
  },
  async hostDeathRetriesReadOnlyOnNewPort() {
    const { ports, connect } = fakePorts();
    const conn = new host.HostConnection(connect);
    const p = conn.request("vault.status");
    ports[0].die("Native host has exited.");
    await tick();
    ports[1].reply({ id: ports[1].posted[0].id, result: { ok: 1 } });
    return { result: await p, ports: ports.length, connections: conn.connections };
  },
  async hostKilledMidWriteRetriesKeyListingOnNewPort() {
    // Chromium's message for a host killed while a message was written to it is its protocol-error text.
    const { ports, connect } = fakePorts();
    const conn = new host.HostConnection(connect);
    const outcome = conn.request("fido.devices").then((result) => ({ result }), (err) => ({ code: err.code }));
    ports[0].die("Error when communicating with the native messaging host.");
    await tick();
    if (ports.length < 2) return { ...(await outcome), ports: ports.length };
    ports[1].reply({ id: ports[1].posted[0].id, result: { keys: [] } });
    return { ...(await outcome), ports: ports.length, method: ports[1].posted[0].method };
  },
  async hostDeathDoesNotRepeatMutations() {
    const { ports, connect } = fakePorts();
    const conn = new host.HostConnection(connect);
    const p = conn.request("vault.add", { uri: "otpauth://totp/x?secret=JBSWY3DP" });
    ports[0].die("Native host has exited.");
    try {
      await p;
      return { rejected: false };
    } catch (err) {
      return { rejected: true, code: err.code, ports: ports.length };
    }
  },
  async notInstalledIsNotRetried() {
    const { ports, connect } = fakePorts();
    const conn = new host.HostConnection(connect);
    const p = conn.request("hello");
    ports[0].die("Specified native messaging host not found.");
    try {
      await p;
      return { rejected: false };
    } catch (err) {
      return { rejected: true, code: err.code, ports: ports.length, message: messages.userMessage(err.code) };
    }
  },
  async nextRequestAfterDeathReconnects() {
    const { ports, connect } = fakePorts();
    const conn = new host.HostConnection(connect);
    ports.length === 0 && conn.ensurePort();
    ports[0].die("Native host has exited.");
    const p = conn.request("hello");
    ports[1].reply({ id: ports[1].posted[0].id, result: { version: "x" } });
    return { version: (await p).version, ports: ports.length, connected: conn.connected };
  },
  async eventsReachListeners() {
    const { ports, connect } = fakePorts();
    const conn = new host.HostConnection(connect);
    const seen = [];
    conn.onEvent((e) => seen.push(e.event));
    conn.ensurePort();
    ports[0].reply({ event: "vault.locked", reason: "idle" });
    return { seen };
  },
};

const functions = {
  senderOrigin: (sender, documentOrigin) => origin.senderOrigin(sender, documentOrigin),
  senderOriginDecision: (sender, documentOrigin) => origin.senderOriginDecision(sender, documentOrigin),
  pageOrigin: (facts) => policy.pageOrigin(facts),
  opaqueOriginMessage: () => policy.OPAQUE_ORIGIN_MESSAGE,
  urlOrigin: (href) => origin.urlOrigin(href),
  disconnectCode: (message) => host.disconnectCode(message),
  mergeSettings: (user, managed) => settings.mergeSettings(user, managed),
  userMessage: (code, fallback) => messages.userMessage(code, fallback),
  knownCodes: () => messages.KNOWN_CODES,
  siteOrigin: (line) => siteOrigins.siteOrigin(line),
  scenario: (name) => scenarios[name](),
};

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  let reply;
  try {
    const { fn, args } = JSON.parse(line);
    reply = { value: (await functions[fn](...args)) ?? null };
  } catch (err) {
    reply = { error: String(err?.stack ?? err) };
  }
  process.stdout.write(JSON.stringify(reply) + "\n");
}
