// The ts-mls side of the MLSClient peer: handles, codecs, and the MLS steps
// the RPCs of server.mjs are built from. Everything here uses ts-mls 1.6.4's
// public API (`ts-mls` and its `ts-mls/*.js` modules) and nothing else.

import { randomInt } from "node:crypto";

import grpc from "@grpc/grpc-js";
import * as mls from "ts-mls";
import { encodeRatchetTree, decodeRatchetTree } from "ts-mls/ratchetTree.js";
import { InternalError, MlsError, UsageError } from "ts-mls/mlsError.js";

const MAX_HANDLES = 100000;

// ---------------------------------------------------------------- errors

export class RpcError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}
export const invalid = (msg) => new RpcError(grpc.status.INVALID_ARGUMENT, msg);
export const notFound = (msg) => new RpcError(grpc.status.NOT_FOUND, msg);
export const precondition = (msg) => new RpcError(grpc.status.FAILED_PRECONDITION, msg);
export const unimplemented = (msg) => new RpcError(grpc.status.UNIMPLEMENTED, msg);

export function toStatus(err) {
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

export const EMPTY = new Uint8Array(0);
export const hex = (b) => Buffer.from(b).toString("hex");
export const bytesEqual = (a, b) => a.length === b.length && Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;
export const asBytes = (b) => (b ? new Uint8Array(b) : EMPTY);

// RFC 9420 2.1.2 variable-length integer, used for the external_senders vector.
export function encodeVarint(n) {
  if (n < 0x40) return Uint8Array.of(n);
  if (n < 0x4000) return Uint8Array.of(0x40 | (n >> 8), n & 0xff);
  if (n < 0x40000000) return Uint8Array.of(0x80 | (n >>> 24), (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
  throw invalid("vector too long");
}
export function decodeVarint(b, off) {
  if (off >= b.length) throw invalid("truncated varint");
  const prefix = b[off] >> 6;
  const len = 1 << prefix;
  if (prefix === 3 || off + len > b.length) throw invalid("bad varint");
  let v = b[off] & 0x3f;
  for (let i = 1; i < len; i++) v = (v << 8) | b[off + i];
  return [v >>> 0, off + len];
}
export const concat = (parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
};

// ---------------------------------------------------------------- suites

export const SUITE_NAMES = new Map(Object.entries(mls.ciphersuites).map(([name, id]) => [id, name]));
export const implCache = new Map();

export async function suiteImpl(id) {
  const name = SUITE_NAMES.get(id);
  if (name === undefined) throw invalid(`cipher suite ${id} is not one ts-mls knows`);
  if (!implCache.has(id)) implCache.set(id, await mls.getCiphersuiteImpl(mls.getCiphersuiteFromName(name)));
  return implCache.get(id);
}
export const suiteImplByName = (name) => {
  const id = mls.ciphersuites[name];
  if (id === undefined) throw invalid(`unknown cipher suite ${name}`);
  return suiteImpl(id);
};

export async function probeSuites() {
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

export const handles = new Map();

export function newHandle(entry) {
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

export function getHandle(id, kind, what) {
  const entry = handles.get(id);
  if (entry === undefined) throw notFound(`unknown ${what} id ${id}`);
  if (kind !== undefined && entry.kind !== kind) throw precondition(`id ${id} is a ${entry.kind}, not a ${what}`);
  return entry;
}
export const getState = (id) => getHandle(id, "state", "state");

// A member's state: `pending` is the state after a Commit this member made
// and has not yet applied (HandlePendingCommit); `own` holds the encoded
// proposals this member sent in the current epoch, so the runner listing
// them by reference does not make the member process its own message;
// `updateKeys` maps a proposal ref of this member's own Update to the leaf
// private key it introduced.
export function newStateEntry(state, cs, fields) {
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

export function setEpochState(entry, state) {
  entry.state = state;
  entry.own = new Set();
  entry.updateKeys = new Map();
}

// ---------------------------------------------------------------- codecs

export function decodeWhole(decoder, bytes, what) {
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

export function decodeMessage(bytes, wireformats, what) {
  if (!bytes || bytes.length === 0) throw invalid(`empty ${what}`);
  const msg = decodeWhole(mls.decodeMlsMessage, bytes, what);
  if (!wireformats.includes(msg.wireformat)) throw invalid(`${what} has wire format ${msg.wireformat}`);
  return msg;
}

export const encodeMessage = (content) => mls.encodeMlsMessage({ version: "mls10", ...content });
export const decodeKeyPackage = (bytes) => decodeMessage(bytes, ["mls_key_package"], "key package").keyPackage;
export const decodeWelcome = (bytes) => decodeMessage(bytes, ["mls_welcome"], "welcome").welcome;
export const decodeGroupInfo = (bytes) => decodeMessage(bytes, ["mls_group_info"], "group info").groupInfo;
export const decodeTree = (bytes) => (bytes && bytes.length > 0 ? decodeWhole(decodeRatchetTree, bytes, "ratchet tree") : undefined);
export const encodeWelcome = (welcome) => (welcome ? encodeMessage({ wireformat: "mls_welcome", welcome }) : EMPTY);

export const DEFAULT_EXTENSION_NAMES = new Map(Object.entries(mls.defaultExtensionTypes).map(([n, v]) => [v, n]));
export function toExtensions(list) {
  return (list || []).map((e) => {
    if (e.extension_type > 0xffff) throw invalid(`extension type ${e.extension_type} out of range`);
    return {
      extensionType: DEFAULT_EXTENSION_NAMES.get(e.extension_type) ?? e.extension_type,
      extensionData: asBytes(e.extension_data),
    };
  });
}

// ---------------------------------------------------------------- members

export const pskIndex = (state, psks) => mls.makePskIndex(state, psks);
export const leafAt = (tree, leafIndex) => tree[leafIndex * 2];

export function leafIndexOf(tree, identity) {
  for (let i = 0; i * 2 < tree.length; i++) {
    const node = leafAt(tree, i);
    if (node && node.nodeType === "leaf" && node.leaf.credential.credentialType === "basic" &&
        bytesEqual(node.leaf.credential.identity, identity)) return i;
  }
  throw invalid(`no member with identity ${Buffer.from(identity).toString("utf8")}`);
}

export function ownLeaf(state) {
  const node = leafAt(state.ratchetTree, state.privatePath.leafIndex);
  if (!node || node.nodeType !== "leaf") throw precondition("own leaf is blank");
  return node.leaf;
}

// RFC 9420 5.1.1: an ECDSA signature public key is an uncompressed SEC1 point.
// ts-mls 1.6.4's default keygen (noble's getPublicKey) returns the compressed
// form; ts-mls signs and verifies with either, so the peer hands it RFC-form
// keys through ts-mls's own generateKeyPackageWithKey.
const ECDSA_CURVES = { P256: "p256", P384: "p384", P521: "p521" };

export async function signatureKeys(cs) {
  const keys = await cs.signature.keygen();
  const curve = ECDSA_CURVES[cs.name.split("_").at(-1)];
  if (curve === undefined) return keys;
  const nist = await import("@noble/curves/nist.js");
  return { signKey: keys.signKey, publicKey: nist[curve].Point.fromBytes(keys.publicKey).toBytes(false) };
}

export async function newKeyPackage(identity, cs) {
  const credential = { credentialType: "basic", identity: asBytes(identity) };
  return mls.generateKeyPackageWithKey(credential, mls.defaultCapabilities(), mls.defaultLifetime, [],
                                       await signatureKeys(cs), cs);
}

export function pskNonce(cs) {
  return cs.rng.randomBytes(cs.kdf.size);
}

export function externalPsk(pskId, cs) {
  if (!pskId || pskId.length === 0) throw invalid("empty psk_id");
  return { proposalType: "psk", psk: { preSharedKeyId: { psktype: "external", pskId: asBytes(pskId), pskNonce: pskNonce(cs) } } };
}

export function resumptionPsk(groupId, epoch, cs) {
  return {
    proposalType: "psk",
    psk: {
      preSharedKeyId: { psktype: "resumption", usage: "application", pskGroupId: groupId, pskEpoch: BigInt(epoch), pskNonce: pskNonce(cs) },
    },
  };
}

// Turns a ProposalDescription into a ts-mls Proposal. `tree` and `groupId`
// come from the member's state, or from a GroupInfo for an external signer.
export function describeProposal(desc, tree, groupId, cs) {
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

export function reinitProposal(groupId, suite, extensions) {
  const name = SUITE_NAMES.get(suite);
  if (name === undefined) throw invalid(`cipher suite ${suite} is not one ts-mls knows`);
  if (!groupId || groupId.length === 0) throw invalid("empty group_id");
  return { proposalType: "reinit", reinit: { groupId: asBytes(groupId), version: "mls10", cipherSuite: name, extensions: toExtensions(extensions) } };
}

export async function propose(entry, proposal) {
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
export async function processIncoming(entry, bytes, state = entry.state) {
  if (entry.own.has(hex(bytes))) return { kind: "own", newState: state };
  const msg = decodeMessage(bytes, ["mls_public_message", "mls_private_message"], "handshake message");
  return processAny(msg, state, entry);
}

// ts-mls 1.6.4's processMessage hands processPrivateMessage an empty PSK index,
// so an encrypted commit with a PSK proposal could never be processed; the
// peer calls the two public per-wire-format functions itself.
export async function processAny(msg, state, entry) {
  const psks = pskIndex(state, entry.psks);
  if (msg.wireformat === "mls_public_message") {
    return { ...(await mls.processPublicMessage(state, msg.publicMessage, psks, entry.cs, mls.acceptAll)), kind: "newState" };
  }
  return mls.processPrivateMessage(state, msg.privateMessage, psks, entry.cs, mls.acceptAll);
}

export async function processProposals(entry, proposals) {
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
export async function processCommit(entry, commitBytes) {
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
export function withoutOwnUpdates(state) {
  const me = state.privatePath.leafIndex;
  const kept = {};
  for (const [ref, p] of Object.entries(state.unappliedProposals)) {
    if (!(p.proposal.proposalType === "update" && p.senderLeafIndex === me)) kept[ref] = p;
  }
  return { ...state, unappliedProposals: kept };
}

export async function makeCommit(entry, req, extraProposals) {
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

export function takePending(entry) {
  if (!entry.pending) throw precondition("no pending commit");
  setEpochState(entry, entry.pending);
  entry.pending = null;
}

// Reinit: after the ReInit commit the old state is suspended; the member
// makes a key package for the new suite and waits for a Welcome.
export async function startReinit(entry) {
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
export async function newSubgroup(oldState, usage, groupId, extensions, memberKps, cs, externalTree) {
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

export function ratchetTreeOf(groupInfo) {
  const ext = groupInfo.extensions.find((e) => e.extensionType === "ratchet_tree");
  if (!ext) throw invalid("no ratchet tree given and none in the GroupInfo");
  return decodeWhole(decodeRatchetTree, ext.extensionData, "ratchet tree extension");
}
