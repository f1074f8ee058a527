// The ts-mls side of `accord bench mls-peers` (bench/mls_peers.py): the same
// group operations as the Accord side, through ts-mls 1.6.4's own API (no
// gRPC), timed with performance.now() inside this process.
//
//   node bench.mjs --size N [--repeats R] [--app-messages M] [--budget-ms B]
//
// Prints one JSON object: {"members": N, "repeats": {...}, "<op>_ms": median,
// "<op>_runs_ms": [...], ...}. Suite 1 (MLS_128_DHKEMX25519_AES128GCM_SHA256_
// Ed25519); handshake messages as PublicMessage; the ratchet tree travels in
// the Welcome (GroupInfo ratchet_tree extension), as on the Accord side.
// Key packages are made before anything is timed. Once the budget is spent no
// further repetition starts (one that is running finishes: the Python caller
// kills this process if it overruns).

import { performance } from "node:perf_hooks";
import process from "node:process";

import * as mls from "ts-mls";

const SUITE = "MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519";
const PAYLOAD = new Uint8Array(100).fill(0x42);
const GROUP_ID = new TextEncoder().encode("bench-mls-peers");
const MAX_SIZE = 100000;
const MAX_REPEATS = 1000;

function parseArgs(argv) {
  const opts = { size: 10, repeats: 5, appMessages: 20, budgetMs: 60000 };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1];
    if (argv[i] === "--size") opts.size = Number(v);
    else if (argv[i] === "--repeats") opts.repeats = Number(v);
    else if (argv[i] === "--app-messages") opts.appMessages = Number(v);
    else if (argv[i] === "--budget-ms") opts.budgetMs = Number(v);
    else throw new Error(`unknown argument ${argv[i]}`);
    i++;
  }
  if (!Number.isInteger(opts.size) || opts.size < 4 || opts.size > MAX_SIZE) throw new Error("--size must be 4..100000");
  for (const k of ["repeats", "appMessages"]) {
    if (!Number.isInteger(opts[k]) || opts[k] < 1 || opts[k] > MAX_REPEATS) throw new Error(`--${k} must be 1..1000`);
  }
  if (!(opts.budgetMs > 0)) throw new Error("--budget-ms must be positive");
  return opts;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round3 = (x) => Math.round(x * 1000) / 1000;

async function keyPackages(n, cs) {
  const kps = [];
  for (let i = 0; i < n; i++) {
    const credential = { credentialType: "basic", identity: new TextEncoder().encode(`member-${i}`) };
    kps.push(await mls.generateKeyPackage(credential, mls.defaultCapabilities(), mls.defaultLifetime, [], cs));
  }
  return kps;
}

const encode = (content) => mls.encodeMlsMessage({ version: "mls10", ...content });
const decode = (bytes) => {
  const res = mls.decodeMlsMessage(bytes, 0);
  if (res === undefined) throw new Error("undecodable message");
  return res[0];
};

async function processHandshake(state, bytes, cs) {
  const msg = decode(bytes);
  const res = await mls.processMessage(msg, state, mls.emptyPskIndex, mls.acceptAll, cs);
  return res;
}

// Runs `fn` up to `repeats` times while the deadline allows (at least once);
// records each run's milliseconds.
async function timed(out, name, repeats, deadline, fn) {
  const runs = [];
  let result;
  for (let i = 0; i < repeats; i++) {
    if (i > 0 && performance.now() > deadline) break;
    const t = performance.now();
    result = await fn(i);
    runs.push(performance.now() - t);
  }
  out[`${name}_ms`] = round3(median(runs));
  out[`${name}_runs_ms`] = runs.map(round3);
  return result;
}

async function run(n, repeats, appMessages, budgetMs, cs) {
  const out = { members: n };
  let t = performance.now();
  const kps = await keyPackages(n, cs);
  out.key_packages_s = round3((performance.now() - t) / 1000);
  const deadline = performance.now() + budgetMs;

  const created = await timed(out, "create", repeats, deadline, async () => {
    const st = await mls.createGroup(GROUP_ID, kps[0].publicPackage, kps[0].privatePackage, [], cs);
    const adds = kps.slice(1).map((kp) => ({ proposalType: "add", add: { keyPackage: kp.publicPackage } }));
    const res = await mls.createCommit(
      { state: st, cipherSuite: cs },
      { extraProposals: adds, wireAsPublicMessage: true, ratchetTreeExtension: true },
    );
    const commit = encode(res.commit);
    const welcome = encode({ wireformat: "mls_welcome", welcome: res.welcome });
    return { state: res.newState, commit, welcome };
  });
  out.commit_bytes = created.commit.length;
  out.welcome_bytes = created.welcome.length;

  const join = (i) => {
    const msg = decode(created.welcome);
    return mls.joinGroup(msg.welcome, kps[i].publicPackage, kps[i].privatePackage, mls.emptyPskIndex, cs);
  };
  const sender = await timed(out, "join", repeats, deadline, () => join(1));
  const receiver = await join(n - 2);

  // An update commit (no proposals, so it carries a path) by member 1.
  const commit = await timed(out, "update_create", repeats, deadline, async () => {
    const res = await mls.createCommit({ state: sender, cipherSuite: cs }, { wireAsPublicMessage: true });
    return encode(res.commit);
  });
  out.update_commit_bytes = commit.length;
  const processed = await timed(out, "update_process", repeats, deadline, async () => {
    const res = await processHandshake(receiver, commit, cs);
    if (res.kind !== "newState") throw new Error("the update commit was not processed as one");
    return res.newState;
  });
  out.update_epoch_agrees = processed.groupContext.epoch === sender.groupContext.epoch + 1n;

  // Application messages: a chain, each side's state carried on.
  let s = sender;
  const wires = [];
  await timed(out, "app_protect", appMessages, deadline, async () => {
    const res = await mls.createApplicationMessage(s, PAYLOAD, cs);
    s = res.newState;
    const wire = encode({ wireformat: "mls_private_message", privateMessage: res.privateMessage });
    wires.push(wire);
    return wire;
  });
  let r = receiver;
  await timed(out, "app_unprotect", wires.length, Infinity, async (i) => {
    const res = await processHandshake(r, wires[i], cs);
    if (res.kind !== "applicationMessage" || Buffer.compare(Buffer.from(res.message), Buffer.from(PAYLOAD)) !== 0) {
      throw new Error("application message did not round-trip");
    }
    r = res.newState;
    return res.message;
  });
  out.app_message_bytes = wires[0].length;
  out.repeats = { handshake: repeats, app_messages: appMessages };
  out.budget_exceeded = performance.now() > deadline;
  return out;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const cs = await mls.getCiphersuiteImpl(mls.getCiphersuiteFromName(SUITE));
  // Warm-up, not reported: the JIT and the lazily loaded crypto.
  await run(4, 2, 4, 10000, cs);
  const out = await run(opts.size, opts.repeats, opts.appMessages, opts.budgetMs, cs);
  out.implementation = "ts-mls 1.6.4";
  out.node = process.version;
  process.stdout.write(JSON.stringify(out) + "\n");
}

main().catch((e) => {
  process.stderr.write(`${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
