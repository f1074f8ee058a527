// Cross-check of Accord's HPKE against the @hpke packages that ts-mls 1.6.4 uses.
// Reads one JSON job per KEM on stdin, writes the results as JSON on stdout.
// Run by tests/mls/test_hpke_tsmls.py; argv[2] is the folder holding node_modules.
const { createRequire } = require("module");
const path = require("path");
const req = createRequire(path.join(process.argv[2], "package.json"));
const core = req("@hpke/core");
const { XWing } = req("@hpke/hybridkem-x-wing");
const { MlKem768, MlKem1024 } = req("@hpke/ml-kem");
const { DhkemX448HkdfSha512 } = req("@hpke/dhkem-x448");

const KEMS = {
  0x647a: () => new XWing(),
  0x0041: () => new MlKem768(),
  0x0042: () => new MlKem1024(),
  0x0021: () => new DhkemX448HkdfSha512(),
};
const hex = (b) => Buffer.from(new Uint8Array(b)).toString("hex");
const bin = (h) => new Uint8Array(Buffer.from(h, "hex"));

async function mldsa(job) {
  // ts-mls 1.6.4 signs ML-DSA-87 with @noble/post-quantum (pure mode, empty context).
  const { pathToFileURL } = require("url");
  const file = path.join(process.argv[2], "node_modules/@noble/post-quantum/ml-dsa.js");
  const { ml_dsa87 } = await import(pathToFileURL(file).href);
  const keys = ml_dsa87.keygen(bin(job.seed));
  return {
    kind: "mldsa",
    public: hex(keys.publicKey),
    signature: hex(ml_dsa87.sign(bin(job.message), keys.secretKey)),
    ours_verifies: ml_dsa87.verify(bin(job.signature), bin(job.message), keys.publicKey),
  };
}

async function run(job) {
  if (job.kind === "mldsa") return mldsa(job);
  const suite = new core.CipherSuite({
    kem: KEMS[job.kem_id](),
    kdf: new core.HkdfSha512(),
    aead: new core.Aes256Gcm(),
  });
  const mine = await suite.kem.deriveKeyPair(bin(job.ikm_js));
  const python = await suite.kem.deriveKeyPair(bin(job.ikm_py));
  const out = {
    kem_id: job.kem_id,
    pk_js: hex(await suite.kem.serializePublicKey(mine.publicKey)),
    pk_py: hex(await suite.kem.serializePublicKey(python.publicKey)),
  };
  const rctx = await suite.createRecipientContext({
    recipientKey: mine, enc: bin(job.enc), info: bin(job.info),
  });
  out.opened = hex(await rctx.open(bin(job.ct), bin(job.aad)));
  const sctx = await suite.createSenderContext({
    recipientPublicKey: python.publicKey, info: bin(job.info),
  });
  out.enc = hex(sctx.enc);
  out.ct = hex(await sctx.seal(bin(job.plaintext), bin(job.aad)));
  out.exported = hex(await sctx.export(bin(job.exporter_context), 64));
  return out;
}

let input = "";
process.stdin.on("data", (d) => (input += d));
process.stdin.on("end", async () => {
  const results = [];
  for (const job of JSON.parse(input)) results.push(await run(job));
  process.stdout.write(JSON.stringify(results));
});
