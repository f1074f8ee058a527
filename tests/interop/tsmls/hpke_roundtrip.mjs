// HPKE (RFC 9180, base mode) through ts-mls 1.6.4's own cipher-suite HPKE, for
// cross-implementation checks from Python (e.g. the X-Wing suite 0x0053 = 83).
//
//   node hpke_roundtrip.mjs keygen SUITE
//   node hpke_roundtrip.mjs seal SUITE PUBLIC_KEY_HEX PLAINTEXT_HEX [--info HEX] [--aad HEX]
//   node hpke_roundtrip.mjs open SUITE PRIVATE_KEY_HEX KEM_OUTPUT_HEX CIPHERTEXT_HEX [--info HEX] [--aad HEX]
//
// SUITE is an MLS cipher suite number as ts-mls numbers them (1..7, 77..88); its
// KEM, KDF and AEAD are the HPKE algorithms used. Keys are in the form ts-mls's
// exportPublicKey/exportPrivateKey give (for X-Wing: the 1216-byte public key and
// the 32-byte private seed). Prints one JSON object; exits 1 on any error (a
// failed open included), with the reason on stderr.

import process from "node:process";
import * as mls from "ts-mls";

const SUITES = new Map(Object.entries(mls.ciphersuites).map(([name, id]) => [id, name]));

function fromHex(s, what) {
  if (typeof s !== "string" || !/^([0-9a-fA-F]{2})*$/.test(s)) throw new Error(`${what} is not hex`);
  return Uint8Array.from(Buffer.from(s, "hex"));
}
const toHex = (b) => Buffer.from(b).toString("hex");

function parse(argv) {
  const positional = [];
  const opts = { info: new Uint8Array(0), aad: new Uint8Array(0) };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--info" || argv[i] === "--aad") {
      const key = argv[i].slice(2);
      opts[key] = fromHex(argv[++i], key);
    } else positional.push(argv[i]);
  }
  return [positional, opts];
}

async function hpkeFor(suiteArg) {
  const id = Number(suiteArg);
  const name = SUITES.get(id);
  if (name === undefined) throw new Error(`unknown cipher suite ${suiteArg}`);
  const impl = await mls.getCiphersuiteImpl(mls.getCiphersuiteFromName(name));
  return { name, hpke: impl.hpke };
}

async function main() {
  const [[command, suite, ...rest], opts] = parse(process.argv.slice(2));
  const { name, hpke } = await hpkeFor(suite);
  if (command === "keygen" && rest.length === 0) {
    const pair = await hpke.generateKeyPair();
    return { suite: name, public_key: toHex(await hpke.exportPublicKey(pair.publicKey)), private_key: toHex(await hpke.exportPrivateKey(pair.privateKey)) };
  }
  if (command === "seal" && rest.length === 2) {
    const pub = await hpke.importPublicKey(fromHex(rest[0], "public key"));
    const { ct, enc } = await hpke.seal(pub, fromHex(rest[1], "plaintext"), opts.info, opts.aad);
    return { suite: name, kem_output: toHex(enc), ciphertext: toHex(ct) };
  }
  if (command === "open" && rest.length === 3) {
    const priv = await hpke.importPrivateKey(fromHex(rest[0], "private key"));
    const pt = await hpke.open(priv, fromHex(rest[1], "kem output"), fromHex(rest[2], "ciphertext"), opts.info, opts.aad);
    return { suite: name, plaintext: toHex(pt) };
  }
  throw new Error("usage: keygen SUITE | seal SUITE PUB PLAINTEXT | open SUITE PRIV KEM_OUTPUT CIPHERTEXT [--info HEX] [--aad HEX]");
}

main().then(
  (out) => process.stdout.write(JSON.stringify(out) + "\n"),
  (err) => {
    process.stderr.write(`${err && err.message ? err.message : err}\n`);
    process.exitCode = 1;
  },
);
