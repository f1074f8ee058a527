// ts-mls 1.6.4 behind the MLS working group's MLSClient gRPC service
// (../mls_client.proto), so Accord's interop runner can drive an MLS
// implementation that nobody on the Accord team wrote.
//
// The MLS steps themselves live in peer.mjs; this file is the RPC table and
// the gRPC plumbing.
//
// Usage: node server.mjs --port N [--host 127.0.0.1]
// --port 0 picks a free port. Once the socket is bound the server prints
// exactly one line "listening on HOST:PORT" on stdout.
//
// Every handle the server returns (state, transaction, reinit, signer id) is
// a fresh random non-zero uint32 from crypto.randomInt, never a counter.
// Every RPC answers either a response or a gRPC status; a request that
// ts-mls cannot serve answers UNIMPLEMENTED with the reason.

import { fileURLToPath } from "node:url";
import path from "node:path";
import process from "node:process";

import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";
import * as mls from "ts-mls";
import { encodeRatchetTree } from "ts-mls/ratchetTree.js";
import { encodeLeafNodeTBS } from "ts-mls/leafNode.js";
import { signWithLabel } from "ts-mls/crypto/signature.js";
import { defaultClientConfig } from "ts-mls/clientConfig.js";

import {
  invalid,
  notFound,
  precondition,
  unimplemented,
  toStatus,
  EMPTY,
  bytesEqual,
  asBytes,
  encodeVarint,
  decodeVarint,
  concat,
  suiteImpl,
  suiteImplByName,
  probeSuites,
  handles,
  newHandle,
  getHandle,
  getState,
  newStateEntry,
  setEpochState,
  decodeWhole,
  decodeMessage,
  encodeMessage,
  decodeKeyPackage,
  decodeWelcome,
  decodeGroupInfo,
  decodeTree,
  toExtensions,
  pskIndex,
  leafIndexOf,
  ownLeaf,
  newKeyPackage,
  signatureKeys,
  externalPsk,
  resumptionPsk,
  describeProposal,
  reinitProposal,
  propose,
  processAny,
  processProposals,
  processCommit,
  makeCommit,
  takePending,
  startReinit,
  newSubgroup,
  ratchetTreeOf,
} from "./peer.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PROTO = path.join(HERE, "..", "mls_client.proto");
const MAX_EXPORT_LENGTH = 1024;

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
    const keys = await signatureKeys(cs);
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
