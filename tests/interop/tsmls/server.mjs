// ts-mls 1.6.4 behind the MLS working group's MLSClient gRPC service
// (../mls_client.proto), so Accord's interop runner can drive an MLS
// implementation that nobody on the Accord team wrote.
//
// Usage: node server.mjs --port N [--host 127.0.0.1]
// --port 0 picks a free port. Once the socket is bound the server prints
// exactly one line "listening on HOST:PORT" on stdout.
//
// Every handle the server returns (state, transaction, reinit, signer id) is
// a fresh random non-zero uint32 from crypto.randomInt, never a counter.
// Every RPC answers either a response or a gRPC status; a request that
// ts-mls cannot serve answers UNIMPLEMENTED with the reason.

import { randomInt } from "node:crypto";
import { fileURLToPath } from "node:url";
import path from "node:path";
import process from "node:process";

import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";
import * as mls from "ts-mls";
import { encodeRatchetTree, decodeRatchetTree } from "ts-mls/ratchetTree.js";
import { encodeLeafNodeTBS } from "ts-mls/leafNode.js";
import { signWithLabel } from "ts-mls/crypto/signature.js";
import { defaultClientConfig } from "ts-mls/clientConfig.js";
import { InternalError, MlsError, UsageError } from "ts-mls/mlsError.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PROTO = path.join(HERE, "..", "mls_client.proto");
const MAX_HANDLES = 100000;
const MAX_EXPORT_LENGTH = 1024;

// ---------------------------------------------------------------- errors

class RpcError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}
const invalid = (msg) => new RpcError(grpc.status.INVALID_ARGUMENT, msg);
const notFound = (msg) => new RpcError(grpc.status.NOT_FOUND, msg);
const precondition = (msg) => new RpcError(grpc.status.FAILED_PRECONDITION, msg);
const unimplemented = (msg) => new RpcError(grpc.status.UNIMPLEMENTED, msg);

function toStatus(err) {
  if (err instanceof RpcError) return { code: err.code, details: err.message };
  const name = err && err.constructor ? err.constructor.name : "Error";
  const message = err && err.message ? err.message : String(err);
  // ts-mls signals rejected input with MlsError subclasses; anything else
  // (a TypeError deep in a decoder fed garbage, say) is still the caller's
  // bytes being unusable, never a server crash.
  let code = grpc.status.INTERNAL;
  if (err instanceof UsageError) code = grpc.status.FAILED_PRECONDITION;
  else if (err instanceof MlsError && !(err instanceof InternalError)) code = grpc.status.INVALID_ARGUMENT;
  return { code, details: `ts-mls: ${name}: ${message}` };
}

// ---------------------------------------------------------------- bytes

const EMPTY = new Uint8Array(0);
const hex = (b) => Buffer.from(b).toString("hex");
const bytesEqual = (a, b) => a.length === b.length && Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;
const asBytes = (b) => (b ? new Uint8Array(b) : EMPTY);

// RFC 9420 2.1.2 variable-length integer, used for the external_senders vector.
function encodeVarint(n) {
  if (n < 0x40) return Uint8Array.of(n);
  if (n < 0x4000) return Uint8Array.of(0x40 | (n >> 8), n & 0xff);
  if (n < 0x40000000) return Uint8Array.of(0x80 | (n >>> 24), (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
  throw invalid("vector too long");
}
function decodeVarint(b, off) {
  if (off >= b.length) throw invalid("truncated varint");
  const prefix = b[off] >> 6;
  const len = 1 << prefix;
  if (prefix === 3 || off + len > b.length) throw invalid("bad varint");
  let v = b[off] & 0x3f;
  for (let i = 1; i < len; i++) v = (v << 8) | b[off + i];
  return [v >>> 0, off + len];
}
const concat = (parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
};

// ---------------------------------------------------------------- suites

const SUITE_NAMES = new Map(Object.entries(mls.ciphersuites).map(([name, id]) => [id, name]));
const implCache = new Map();

async function suiteImpl(id) {
  const name = SUITE_NAMES.get(id);
  if (name === undefined) throw invalid(`cipher suite ${id} is not one ts-mls knows`);
  if (!implCache.has(id)) implCache.set(id, await mls.getCiphersuiteImpl(mls.getCiphersuiteFromName(name)));
  return implCache.get(id);
}
const suiteImplByName = (name) => {
  const id = mls.ciphersuites[name];
  if (id === undefined) throw invalid(`unknown cipher suite ${name}`);
  return suiteImpl(id);
};

async function probeSuites() {
  const ok = [];
  for (const id of SUITE_NAMES.keys()) {
    try {
      await suiteImpl(id);
      ok.push(id);
    } catch {
      // a suite whose optional peer dependency is missing is not offered
    }
  }
  return ok.sort((a, b) => a - b);
}

// ---------------------------------------------------------------- handles

const handles = new Map();

function newHandle(entry) {
  if (handles.size >= MAX_HANDLES) throw new RpcError(grpc.status.RESOURCE_EXHAUSTED, "too many live handles; call Free");
  for (let i = 0; i < 64; i++) {
    const id = randomInt(1, 2 ** 32);
    if (!handles.has(id)) {
      handles.set(id, entry);
      return id;
    }
  }
  throw new RpcError(grpc.status.RESOURCE_EXHAUSTED, "could not allocate a handle");
}

function getHandle(id, kind, what) {
  const entry = handles.get(id);
  if (entry === undefined) throw notFound(`unknown ${what} id ${id}`);
  if (kind !== undefined && entry.kind !== kind) throw precondition(`id ${id} is a ${entry.kind}, not a ${what}`);
  return entry;
}
const getState = (id) => getHandle(id, "state", "state");

// A member's state: `pending` is the state after a Commit this member made
// and has not yet applied (HandlePendingCommit); `own` holds the encoded
// proposals this member sent in the current epoch, so the runner listing
// them by reference does not make the member process its own message;
// `updateKeys` maps a proposal ref of this member's own Update to the leaf
// private key it introduced.
function newStateEntry(state, cs, fields) {
  return {
    kind: "state",
    state,
    cs,
    encrypt: fields.encrypt ?? false,
    psks: fields.psks ?? {},
    pending: null,
    own: new Set(),
    updateKeys: new Map(),
  };
}

function setEpochState(entry, state) {
  entry.state = state;
  entry.own = new Set();
  entry.updateKeys = new Map();
}

// ---------------------------------------------------------------- codecs

function decodeWhole(decoder, bytes, what) {
  let res;
  try {
    res = decoder(asBytes(bytes), 0);
  } catch (e) {
    throw invalid(`cannot decode ${what}: ${e.message}`);
  }
  if (res === undefined) throw invalid(`cannot decode ${what}`);
  if (res[1] !== bytes.length) throw invalid(`trailing bytes after ${what}`);
  return res[0];
}

function decodeMessage(bytes, wireformats, what) {
  if (!bytes || bytes.length === 0) throw invalid(`empty ${what}`);
  const msg = decodeWhole(mls.decodeMlsMessage, bytes, what);
  if (!wireformats.includes(msg.wireformat)) throw invalid(`${what} has wire format ${msg.wireformat}`);
  return msg;
}

const encodeMessage = (content) => mls.encodeMlsMessage({ version: "mls10", ...content });
const decodeKeyPackage = (bytes) => decodeMessage(bytes, ["mls_key_package"], "key package").keyPackage;
const decodeWelcome = (bytes) => decodeMessage(bytes, ["mls_welcome"], "welcome").welcome;
const decodeGroupInfo = (bytes) => decodeMessage(bytes, ["mls_group_info"], "group info").groupInfo;
const decodeTree = (bytes) => (bytes && bytes.length > 0 ? decodeWhole(decodeRatchetTree, bytes, "ratchet tree") : undefined);
const encodeWelcome = (welcome) => (welcome ? encodeMessage({ wireformat: "mls_welcome", welcome }) : EMPTY);

const DEFAULT_EXTENSION_NAMES = new Map(Object.entries(mls.defaultExtensionTypes).map(([n, v]) => [v, n]));
function toExtensions(list) {
  return (list || []).map((e) => {
    if (e.extension_type > 0xffff) throw invalid(`extension type ${e.extension_type} out of range`);
    return {
      extensionType: DEFAULT_EXTENSION_NAMES.get(e.extension_type) ?? e.extension_type,
      extensionData: asBytes(e.extension_data),
    };
  });
}

// ---------------------------------------------------------------- members

const pskIndex = (state, psks) => mls.makePskIndex(state, psks);
const leafAt = (tree, leafIndex) => tree[leafIndex * 2];

function leafIndexOf(tree, identity) {
  for (let i = 0; i * 2 < tree.length; i++) {
    const node = leafAt(tree, i);
    if (node && node.nodeType === "leaf" && node.leaf.credential.credentialType === "basic" &&
        bytesEqual(node.leaf.credential.identity, identity)) return i;
  }
  throw invalid(`no member with identity ${Buffer.from(identity).toString("utf8")}`);
}

function ownLeaf(state) {
  const node = leafAt(state.ratchetTree, state.privatePath.leafIndex);
  if (!node || node.nodeType !== "leaf") throw precondition("own leaf is blank");
  return node.leaf;
}

async function newKeyPackage(identity, cs) {
  const credential = { credentialType: "basic", identity: asBytes(identity) };
  return mls.generateKeyPackage(credential, mls.defaultCapabilities(), mls.defaultLifetime, [], cs);
}

function pskNonce(cs) {
  return cs.rng.randomBytes(cs.kdf.size);
}

function externalPsk(pskId, cs) {
  if (!pskId || pskId.length === 0) throw invalid("empty psk_id");
  return { proposalType: "psk", psk: { preSharedKeyId: { psktype: "external", pskId: asBytes(pskId), pskNonce: pskNonce(cs) } } };
}

function resumptionPsk(groupId, epoch, cs) {
  return {
    proposalType: "psk",
    psk: {
      preSharedKeyId: { psktype: "resumption", usage: "application", pskGroupId: groupId, pskEpoch: BigInt(epoch), pskNonce: pskNonce(cs) },
    },
  };
}

// Turns a ProposalDescription into a ts-mls Proposal. `tree` and `groupId`
// come from the member's state, or from a GroupInfo for an external signer.
function describeProposal(desc, tree, groupId, cs) {
  if (!desc) throw invalid("missing proposal description");
  const kind = Buffer.from(desc.proposal_type || EMPTY).toString("utf8");
  switch (kind) {
    case "add":
      return { proposalType: "add", add: { keyPackage: decodeKeyPackage(desc.key_package) } };
    case "remove":
      return { proposalType: "remove", remove: { removed: leafIndexOf(tree, asBytes(desc.removed_id)) } };
    case "externalPSK":
      return externalPsk(desc.psk_id, cs);
    case "resumptionPSK":
      return resumptionPsk(groupId, desc.epoch_id, cs);
    case "groupContextExtensions":
      return { proposalType: "group_context_extensions", groupContextExtensions: { extensions: toExtensions(desc.extensions) } };
    case "reinit":
      return reinitProposal(desc.group_id, desc.cipher_suite, desc.extensions);
    default:
      throw invalid(`unknown proposal type "${kind}"`);
  }
}

function reinitProposal(groupId, suite, extensions) {
  const name = SUITE_NAMES.get(suite);
  if (name === undefined) throw invalid(`cipher suite ${suite} is not one ts-mls knows`);
  if (!groupId || groupId.length === 0) throw invalid("empty group_id");
  return { proposalType: "reinit", reinit: { groupId: asBytes(groupId), version: "mls10", cipherSuite: name, extensions: toExtensions(extensions) } };
}

async function propose(entry, proposal) {
  const before = new Set(Object.keys(entry.state.unappliedProposals));
  const res = await mls.createProposal(entry.state, !entry.encrypt, proposal, entry.cs);
  entry.state = res.newState;
  const bytes = encodeMessage(res.message);
  entry.own.add(hex(bytes));
  const refs = Object.keys(res.newState.unappliedProposals).filter((r) => !before.has(r));
  return { bytes, ref: refs[0] };
}

// Processes a proposal or commit from someone else. Own proposals listed
// by reference are skipped: the member already holds them.
async function processIncoming(entry, bytes, state = entry.state) {
  if (entry.own.has(hex(bytes))) return { kind: "own", newState: state };
  const msg = decodeMessage(bytes, ["mls_public_message", "mls_private_message"], "handshake message");
  return processAny(msg, state, entry);
}

// ts-mls 1.6.4's processMessage hands processPrivateMessage an empty PSK index,
// so an encrypted commit with a PSK proposal could never be processed; the
// peer calls the two public per-wire-format functions itself.
async function processAny(msg, state, entry) {
  const psks = pskIndex(state, entry.psks);
  if (msg.wireformat === "mls_public_message") {
    return { ...(await mls.processPublicMessage(state, msg.publicMessage, psks, entry.cs, mls.acceptAll)), kind: "newState" };
  }
  return mls.processPrivateMessage(state, msg.privateMessage, psks, entry.cs, mls.acceptAll);
}

async function processProposals(entry, proposals) {
  for (const p of proposals || []) {
    const res = await processIncoming(entry, p);
    if (res.kind === "applicationMessage") throw invalid("by-reference entry is an application message");
    entry.state = res.newState;
  }
}

// RFC 9420 12.4.1: a member whose own Update is committed by someone else
// needs the private key of the leaf it proposed. ts-mls keeps no pending
// update keys, so the peer tries the commit with the new leaf key first and
// falls back to the old one: state values are immutable, so a failed try
// leaves nothing behind.
async function processCommit(entry, commitBytes) {
  const leafNode = entry.state.privatePath.leafIndex * 2;
  const tries = [];
  for (const [ref, key] of entry.updateKeys) {
    if (entry.state.unappliedProposals[ref] === undefined) continue;
    const privateKeys = { ...entry.state.privatePath.privateKeys, [leafNode]: key };
    tries.push({ ...entry.state, privatePath: { ...entry.state.privatePath, privateKeys } });
  }
  tries.push(entry.state);
  let lastError;
  for (const candidate of tries) {
    try {
      const res = await processIncoming(entry, commitBytes, candidate);
      if (res.kind !== "newState") throw invalid("expected a commit");
      return res.newState;
    } catch (e) {
      lastError = e;
    }
  }
  throw lastError;
}

// ts-mls commits every proposal it holds; the committer's own Updates must
// not be among them (RFC 9420 12.2), its UpdatePath replaces them.
function withoutOwnUpdates(state) {
  const me = state.privatePath.leafIndex;
  const kept = {};
  for (const [ref, p] of Object.entries(state.unappliedProposals)) {
    if (!(p.proposal.proposalType === "update" && p.senderLeafIndex === me)) kept[ref] = p;
  }
  return { ...state, unappliedProposals: kept };
}

async function makeCommit(entry, req, extraProposals) {
  if (entry.pending) throw precondition("a commit is already pending; call HandlePendingCommit first");
  await processProposals(entry, req.by_reference);
  const state = withoutOwnUpdates(entry.state);
  // force_path is not honoured: ts-mls 1.6.4 decides itself whether a
  // commit carries an UpdatePath and offers no option to force one.
  const res = await mls.createCommit(
    { state, cipherSuite: entry.cs, pskIndex: pskIndex(state, entry.psks) },
    { wireAsPublicMessage: !entry.encrypt, extraProposals, ratchetTreeExtension: !req.external_tree },
  );
  entry.pending = res.newState;
  return {
    commit: encodeMessage(res.commit),
    welcome: encodeWelcome(res.welcome),
    ratchet_tree: req.external_tree ? encodeRatchetTree(res.newState.ratchetTree) : EMPTY,
  };
}

function takePending(entry) {
  if (!entry.pending) throw precondition("no pending commit");
  setEpochState(entry, entry.pending);
  entry.pending = null;
}

// Reinit: after the ReInit commit the old state is suspended; the member
// makes a key package for the new suite and waits for a Welcome.
async function startReinit(entry) {
  const active = entry.state.groupActiveState;
  if (active.kind !== "suspendedPendingReinit") throw precondition("the commit did not contain a ReInit proposal");
  const reinit = active.reinit;
  const newCs = await suiteImplByName(reinit.cipherSuite);
  const identity = ownLeaf(entry.state).credential.identity;
  const kp = await newKeyPackage(identity, newCs);
  const reinitId = newHandle({ kind: "reinit", suspended: entry.state, reinit, cs: newCs, kp, psks: entry.psks });
  return {
    reinit_id: reinitId,
    key_package: encodeMessage({ wireformat: "mls_key_package", keyPackage: kp.publicPackage }),
    epoch_authenticator: entry.state.keySchedule.epochAuthenticator,
  };
}

// A new group whose first commit adds `memberKps` and injects a resumption
// PSK of the old group (RFC 9420 11.2 reinit, 11.3 branch). ts-mls's own
// reinitCreateNewGroup/branchGroup take no ratchet-tree option or (branch)
// extensions, so the peer composes the same steps from its public API.
async function newSubgroup(oldState, usage, groupId, extensions, memberKps, cs, externalTree) {
  const identity = ownLeaf(oldState).credential.identity;
  const kp = await newKeyPackage(identity, cs);
  const group = await mls.createGroup(groupId, kp.publicPackage, kp.privatePackage, extensions, cs);
  const psk = {
    proposalType: "psk",
    psk: {
      preSharedKeyId: {
        psktype: "resumption",
        usage,
        pskGroupId: oldState.groupContext.groupId,
        pskEpoch: oldState.groupContext.epoch,
        pskNonce: pskNonce(cs),
      },
    },
  };
  const adds = memberKps.map((b) => ({ proposalType: "add", add: { keyPackage: decodeKeyPackage(b) } }));
  const res = await mls.createCommit(
    { state: group, cipherSuite: cs, pskIndex: mls.makePskIndex(oldState, {}) },
    { extraProposals: [...adds, psk], ratchetTreeExtension: !externalTree },
  );
  return {
    state: res.newState,
    welcome: encodeWelcome(res.welcome),
    ratchet_tree: externalTree ? encodeRatchetTree(res.newState.ratchetTree) : EMPTY,
  };
}

// ---------------------------------------------------------------- RPCs

let SUPPORTED = [];

const rpc = {
  async Name() {
    return { name: "ts-mls 1.6.4 (Accord interop peer)" };
  },

  async SupportedCiphersuites() {
    return { ciphersuites: SUPPORTED };
  },

  async CreateGroup(req) {
    const cs = await suiteImpl(req.cipher_suite);
    if (!req.group_id || req.group_id.length === 0) throw invalid("empty group_id");
    const kp = await newKeyPackage(req.identity, cs);
    const state = await mls.createGroup(asBytes(req.group_id), kp.publicPackage, kp.privatePackage, [], cs);
    return { state_id: newHandle(newStateEntry(state, cs, { encrypt: req.encrypt_handshake })) };
  },

  async CreateKeyPackage(req) {
    const cs = await suiteImpl(req.cipher_suite);
    const kp = await newKeyPackage(req.identity, cs);
    const id = newHandle({ kind: "transaction", cs, kp, psks: {} });
    return {
      transaction_id: id,
      key_package: encodeMessage({ wireformat: "mls_key_package", keyPackage: kp.publicPackage }),
      init_priv: kp.privatePackage.initPrivateKey,
      encryption_priv: kp.privatePackage.hpkePrivateKey,
      signature_priv: kp.privatePackage.signaturePrivateKey,
    };
  },

  async JoinGroup(req) {
    const tx = getHandle(req.transaction_id, "transaction", "transaction");
    const welcome = decodeWelcome(req.welcome);
    const state = await mls.joinGroup(welcome, tx.kp.publicPackage, tx.kp.privatePackage, pskIndex(undefined, tx.psks), tx.cs, decodeTree(req.ratchet_tree));
    const id = newHandle(newStateEntry(state, tx.cs, { encrypt: req.encrypt_handshake, psks: tx.psks }));
    return { state_id: id, epoch_authenticator: state.keySchedule.epochAuthenticator };
  },

  async ExternalJoin(req) {
    if ((req.psks || []).length > 0) throw unimplemented("ts-mls 1.6.4 joinGroupExternal cannot inject PSKs into an external commit");
    const groupInfo = decodeGroupInfo(req.group_info);
    const cs = await suiteImplByName(groupInfo.groupContext.cipherSuite);
    const kp = await newKeyPackage(req.identity, cs);
    // ts-mls finds the prior leaf to remove by signature key; the runner's
    // joiner has a fresh key, so match the prior leaf by identity instead.
    const config = {
      ...defaultClientConfig,
      keyPackageEqualityConfig: {
        ...defaultClientConfig.keyPackageEqualityConfig,
        compareKeyPackageToLeafNode: (a, leaf) =>
          leaf.credential.credentialType === "basic" && a.leafNode.credential.credentialType === "basic" &&
          bytesEqual(a.leafNode.credential.identity, leaf.credential.identity),
      },
    };
    const res = await mls.joinGroupExternal(groupInfo, kp.publicPackage, kp.privatePackage, Boolean(req.remove_prior), cs, decodeTree(req.ratchet_tree), config);
    // RFC 9420 12.4.3.2: an external commit is always a PublicMessage.
    const commit = encodeMessage({ wireformat: "mls_public_message", publicMessage: res.publicMessage });
    const id = newHandle(newStateEntry(res.newState, cs, { encrypt: req.encrypt_handshake }));
    return { state_id: id, commit, epoch_authenticator: res.newState.keySchedule.epochAuthenticator };
  },

  async GroupInfo(req) {
    const entry = getState(req.state_id);
    const gi = req.external_tree
      ? await mls.createGroupInfoWithExternalPub(entry.state, [], entry.cs)
      : await mls.createGroupInfoWithExternalPubAndRatchetTree(entry.state, [], entry.cs);
    return {
      group_info: encodeMessage({ wireformat: "mls_group_info", groupInfo: gi }),
      ratchet_tree: req.external_tree ? encodeRatchetTree(entry.state.ratchetTree) : EMPTY,
    };
  },

  async StateAuth(req) {
    return { state_auth_secret: getState(req.state_id).state.keySchedule.epochAuthenticator };
  },

  async Export(req) {
    const entry = getState(req.state_id);
    if (req.key_length === 0 || req.key_length > MAX_EXPORT_LENGTH) throw invalid(`key_length must be 1..${MAX_EXPORT_LENGTH}`);
    const secret = await mls.mlsExporter(entry.state.keySchedule.exporterSecret, req.label, asBytes(req.context), req.key_length, entry.cs);
    return { exported_secret: secret };
  },

  async Protect(req) {
    const entry = getState(req.state_id);
    const res = await mls.createApplicationMessage(entry.state, asBytes(req.plaintext), entry.cs, asBytes(req.authenticated_data));
    entry.state = res.newState;
    return { ciphertext: encodeMessage({ wireformat: "mls_private_message", privateMessage: res.privateMessage }) };
  },

  async Unprotect(req) {
    const entry = getState(req.state_id);
    const msg = decodeMessage(req.ciphertext, ["mls_private_message"], "ciphertext");
    const res = await processAny(msg, entry.state, entry);
    if (res.kind !== "applicationMessage") throw invalid("ciphertext is not an application message");
    entry.state = res.newState;
    return { authenticated_data: msg.privateMessage.authenticatedData, plaintext: res.message };
  },

  async StorePSK(req) {
    const entry = getHandle(req.state_or_transaction_id, undefined, "state or transaction");
    if (!entry.psks) throw precondition(`id ${req.state_or_transaction_id} cannot hold PSKs`);
    if (!req.psk_id || req.psk_id.length === 0) throw invalid("empty psk_id");
    entry.psks[mls.bytesToBase64(asBytes(req.psk_id))] = asBytes(req.psk_secret);
    return {};
  },

  async AddProposal(req) {
    const entry = getState(req.state_id);
    const { bytes } = await propose(entry, { proposalType: "add", add: { keyPackage: decodeKeyPackage(req.key_package) } });
    return { proposal: bytes };
  },

  async UpdateProposal(req) {
    const entry = getState(req.state_id);
    const { state, cs } = entry;
    const leaf = ownLeaf(state);
    const pair = await cs.hpke.generateKeyPair();
    const tbs = {
      hpkePublicKey: await cs.hpke.exportPublicKey(pair.publicKey),
      signaturePublicKey: leaf.signaturePublicKey,
      credential: leaf.credential,
      capabilities: leaf.capabilities,
      leafNodeSource: "update",
      extensions: leaf.extensions,
      groupId: state.groupContext.groupId,
      leafIndex: state.privatePath.leafIndex,
    };
    const signature = await signWithLabel(state.signaturePrivateKey, "LeafNodeTBS", encodeLeafNodeTBS(tbs), cs.signature);
    const { groupId: _g, leafIndex: _l, ...leafFields } = tbs;
    const { bytes, ref } = await propose(entry, { proposalType: "update", update: { leafNode: { ...leafFields, signature } } });
    if (ref !== undefined) entry.updateKeys.set(ref, await cs.hpke.exportPrivateKey(pair.privateKey));
    return { proposal: bytes };
  },

  async RemoveProposal(req) {
    const entry = getState(req.state_id);
    const removed = leafIndexOf(entry.state.ratchetTree, asBytes(req.removed_id));
    const { bytes } = await propose(entry, { proposalType: "remove", remove: { removed } });
    return { proposal: bytes };
  },

  async ExternalPSKProposal(req) {
    const entry = getState(req.state_id);
    return { proposal: (await propose(entry, externalPsk(req.psk_id, entry.cs))).bytes };
  },

  async ResumptionPSKProposal(req) {
    const entry = getState(req.state_id);
    const proposal = resumptionPsk(entry.state.groupContext.groupId, req.epoch_id, entry.cs);
    return { proposal: (await propose(entry, proposal)).bytes };
  },

  async GroupContextExtensionsProposal(req) {
    const entry = getState(req.state_id);
    const proposal = { proposalType: "group_context_extensions", groupContextExtensions: { extensions: toExtensions(req.extensions) } };
    return { proposal: (await propose(entry, proposal)).bytes };
  },

  async Commit(req) {
    const entry = getState(req.state_id);
    const extra = (req.by_value || []).map((d) => describeProposal(d, entry.state.ratchetTree, entry.state.groupContext.groupId, entry.cs));
    return makeCommit(entry, req, extra);
  },

  async HandleCommit(req) {
    const entry = getState(req.state_id);
    await processProposals(entry, req.proposal);
    setEpochState(entry, await processCommit(entry, req.commit));
    return { state_id: req.state_id, epoch_authenticator: entry.state.keySchedule.epochAuthenticator };
  },

  async HandlePendingCommit(req) {
    const entry = getState(req.state_id);
    takePending(entry);
    return { state_id: req.state_id, epoch_authenticator: entry.state.keySchedule.epochAuthenticator };
  },

  async ReInitProposal(req) {
    const entry = getState(req.state_id);
    return { proposal: (await propose(entry, reinitProposal(req.group_id, req.cipher_suite, req.extensions))).bytes };
  },

  async ReInitCommit(req) {
    const entry = getState(req.state_id);
    if ((req.by_value || []).length > 0) throw invalid("ReInitCommit commits its ReInit proposal by reference");
    return makeCommit(entry, req, []);
  },

  async HandlePendingReInitCommit(req) {
    const entry = getState(req.state_id);
    takePending(entry);
    return startReinit(entry);
  },

  async HandleReInitCommit(req) {
    const entry = getState(req.state_id);
    await processProposals(entry, req.proposal);
    setEpochState(entry, await processCommit(entry, req.commit));
    return startReinit(entry);
  },

  async ReInitWelcome(req) {
    const r = getHandle(req.reinit_id, "reinit", "reinit");
    const sub = await newSubgroup(r.suspended, "reinit", r.reinit.groupId, r.reinit.extensions, req.key_package || [], r.cs, req.external_tree);
    const id = newHandle(newStateEntry(sub.state, r.cs, { psks: r.psks }));
    return { state_id: id, welcome: sub.welcome, ratchet_tree: sub.ratchet_tree, epoch_authenticator: sub.state.keySchedule.epochAuthenticator };
  },

  async HandleReInitWelcome(req) {
    const r = getHandle(req.reinit_id, "reinit", "reinit");
    const welcome = decodeWelcome(req.welcome);
    const state = await mls.joinGroupFromReinit(r.suspended, welcome, r.kp.publicPackage, r.kp.privatePackage, decodeTree(req.ratchet_tree));
    const id = newHandle(newStateEntry(state, r.cs, { psks: r.psks }));
    return { state_id: id, epoch_authenticator: state.keySchedule.epochAuthenticator };
  },

  async CreateBranch(req) {
    const entry = getState(req.state_id);
    if (!req.group_id || req.group_id.length === 0) throw invalid("empty group_id");
    const sub = await newSubgroup(entry.state, "branch", asBytes(req.group_id), toExtensions(req.extensions), req.key_packages || [], entry.cs, req.external_tree);
    const id = newHandle(newStateEntry(sub.state, entry.cs, { encrypt: entry.encrypt, psks: entry.psks }));
    return { state_id: id, welcome: sub.welcome, ratchet_tree: sub.ratchet_tree, epoch_authenticator: sub.state.keySchedule.epochAuthenticator };
  },

  async HandleBranch(req) {
    const entry = getState(req.state_id);
    const tx = getHandle(req.transaction_id, "transaction", "transaction");
    const welcome = decodeWelcome(req.welcome);
    const state = await mls.joinGroupFromBranch(entry.state, welcome, tx.kp.publicPackage, tx.kp.privatePackage, decodeTree(req.ratchet_tree), entry.cs);
    const id = newHandle(newStateEntry(state, entry.cs, { encrypt: entry.encrypt, psks: entry.psks }));
    return { state_id: id, epoch_authenticator: state.keySchedule.epochAuthenticator };
  },

  async NewMemberAddProposal(req) {
    const groupInfo = decodeGroupInfo(req.group_info);
    const cs = await suiteImplByName(groupInfo.groupContext.cipherSuite);
    const kp = await newKeyPackage(req.identity, cs);
    const msg = await mls.proposeAddExternal(groupInfo, kp.publicPackage, kp.privatePackage, cs);
    const id = newHandle({ kind: "transaction", cs, kp, psks: {} });
    return {
      transaction_id: id,
      proposal: encodeMessage(msg),
      init_priv: kp.privatePackage.initPrivateKey,
      encryption_priv: kp.privatePackage.hpkePrivateKey,
      signature_priv: kp.privatePackage.signaturePrivateKey,
    };
  },

  async CreateExternalSigner(req) {
    const cs = await suiteImpl(req.cipher_suite);
    const keys = await cs.signature.keygen();
    const credential = { credentialType: "basic", identity: asBytes(req.identity) };
    const id = newHandle({ kind: "signer", cs, keys, credential });
    return { signer_id: id, external_sender: mls.encodeExternalSender({ signaturePublicKey: keys.publicKey, credential }) };
  },

  async AddExternalSigner(req) {
    const entry = getState(req.state_id);
    decodeWhole(mls.decodeExternalSender, req.external_sender, "external sender");
    // RFC 9420 12.1.8.1: external_senders is a vector of ExternalSender;
    // the new signer is appended to the ones the group already has.
    const exts = entry.state.groupContext.extensions;
    const current = exts.find((e) => e.extensionType === "external_senders");
    let body = EMPTY;
    if (current) {
      const [len, off] = decodeVarint(current.extensionData, 0);
      if (off + len !== current.extensionData.length) throw precondition("group's external_senders extension is malformed");
      body = current.extensionData.subarray(off);
    }
    const newBody = concat([body, asBytes(req.external_sender)]);
    const extension = { extensionType: "external_senders", extensionData: concat([encodeVarint(newBody.length), newBody]) };
    const extensions = [...exts.filter((e) => e.extensionType !== "external_senders"), extension];
    const proposal = { proposalType: "group_context_extensions", groupContextExtensions: { extensions } };
    return { proposal: (await propose(entry, proposal)).bytes };
  },

  async ExternalSignerProposal(req) {
    const signer = getHandle(req.signer_id, "signer", "signer");
    const groupInfo = decodeGroupInfo(req.group_info);
    const cs = await suiteImplByName(groupInfo.groupContext.cipherSuite);
    const tree = decodeTree(req.ratchet_tree) ?? ratchetTreeOf(groupInfo);
    const proposal = describeProposal(req.description, tree, groupInfo.groupContext.groupId, cs);
    const msg = await mls.proposeExternal(groupInfo, proposal, signer.keys.publicKey, signer.keys.signKey, cs);
    return { proposal: encodeMessage(msg) };
  },

  async Free(req) {
    if (!handles.delete(req.state_id)) throw notFound(`unknown state id ${req.state_id}`);
    return {};
  },
};

function ratchetTreeOf(groupInfo) {
  const ext = groupInfo.extensions.find((e) => e.extensionType === "ratchet_tree");
  if (!ext) throw invalid("no ratchet tree given and none in the GroupInfo");
  return decodeWhole(decodeRatchetTree, ext.extensionData, "ratchet tree extension");
}

// ---------------------------------------------------------------- server

function wrap(name, fn) {
  return (call, callback) => {
    let done = false;
    const reply = (err, res) => {
      if (done) return;
      done = true;
      callback(err, res);
    };
    Promise.resolve()
      .then(() => fn(call.request))
      .then((res) => reply(null, res))
      .catch((err) => {
        const status = toStatus(err);
        if (process.env.TSMLS_PEER_LOG) process.stderr.write(`${name}: ${status.details}\n`);
        reply(status);
      });
  };
}

function parseArgs(argv) {
  const args = { host: "127.0.0.1", port: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--port") args.port = Number(argv[++i]);
    else if (a === "--host") args.host = argv[++i];
    else throw new Error(`unknown argument ${a}`);
  }
  if (!Number.isInteger(args.port) || args.port < 0 || args.port > 65535) throw new Error("--port N is required (0 picks a free port)");
  return args;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  SUPPORTED = await probeSuites();
  const def = protoLoader.loadSync(PROTO, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
  const service = grpc.loadPackageDefinition(def).mls_client.MLSClient.service;
  const impl = {};
  for (const method of Object.keys(service)) {
    const fn = rpc[method];
    impl[method] = fn ? wrap(method, fn) : wrap(method, async () => {
      throw unimplemented(`${method} is not served by the ts-mls peer`);
    });
  }
  const server = new grpc.Server();
  server.addService(service, impl);
  server.bindAsync(`${args.host}:${args.port}`, grpc.ServerCredentials.createInsecure(), (err, port) => {
    if (err) {
      process.stderr.write(`bind failed: ${err.message}\n`);
      process.exit(2);
    }
    process.stdout.write(`listening on ${args.host}:${port}\n`);
  });
  const stop = () => server.tryShutdown(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

// A failure inside a handler is answered as a status; one that escapes
// anyway is logged, never allowed to take the server down.
process.on("unhandledRejection", (err) => process.stderr.write(`unhandled rejection: ${err && err.stack}\n`));

main().catch((err) => {
  process.stderr.write(`${err.message}\n`);
  process.exit(2);
});
