// Accord web onboarding: create and register a profile, link this device to an
// account with the code another device shows, or restore one from a backup
// (issue 20). Text from the provider or the backup is set with textContent only.
"use strict";

const CSRF = document.querySelector('meta[name="csrf-token"]').content;
const STATE = document.querySelector('meta[name="setup-state"]').content;
const $ = (id) => document.getElementById(id);
let plan = null;  // the backup found with the recovery key, before restoring it

async function post(path, body) {
  const resp = await fetch(path, {method: "POST", credentials: "same-origin",
    headers: {"Content-Type": "application/json", "X-CSRF-Token": CSRF},
    body: JSON.stringify(body)});
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) throw Object.assign(new Error(data.message || data.code || resp.status), data);
  return data;
}

let judging = null;
function judge() {
  clearTimeout(judging);
  judging = setTimeout(async () => {
    const words = $("passphrase").value;
    if (!words) {
      $("strength").textContent = "";
      $("strength-meter").value = 0;
      return;
    }
    const v = await post("/api/setup/strength", {passphrase: words});
    $("strength-meter").value = v.score;
    $("strength").textContent = `Strength ${v.score} of 4: ` +
      (v.acceptable ? `offline guessing would take about ${v.offline_guessing}. ` :
                      "very weak. ") + (v.score >= 3 ? "" : v.hint);
    $("weak-ok-label").hidden = v.acceptable;
  }, 250);
}

async function create() {
  const body = {account: $("account").value, server: $("server").value};
  if (STATE === "new") {
    if ($("passphrase").value !== $("passphrase-again").value) {
      throw new Error("the two passphrases differ");
    }
    body.passphrase = $("passphrase").value;
    body.weak_ok = $("weak-ok").checked;
  }
  await post("/api/setup/create", body);
  location.reload();
}

const JOIN_POLLS = 150;  // two seconds apart: the five minutes a linking code lives

async function join() {
  const body = {code: $("join-code").value, server: $("join-server").value};
  if (STATE === "new") {
    body.passphrase = $("join-passphrase").value;
    body.weak_ok = $("join-weak-ok").checked;
  }
  const joined = await post("/api/setup/join", body);
  $("join-status").textContent = `Joining ${joined.account}. Check that your other ` +
    `device shows this device's key fingerprint ${joined.fingerprint}, and confirm it there.`;
  for (let i = 0; i < JOIN_POLLS; i++) {
    await new Promise((done) => setTimeout(done, 2000));
    const state = await post("/api/setup/join/finish", {});
    if (state.state === "linked") {
      location.reload();
      return;
    }
  }
  throw new Error("not confirmed in time: ask your other device for a new code");
}

async function findBackup() {
  plan = await post("/api/setup/restore/plan",
                    {server: $("restore-server").value, recovery_key: $("recovery-key").value});
  $("restore-plan").hidden = false;
  $("restore-plan-text").textContent = `Backup of ${plan.account} ` +
    `(${plan.conversations} conversations). Restoring makes this profile a new device of ` +
    `${plan.account} and REMOVES the backed-up device ${plan.device} from the account: ` +
    "it can no longer log in or receive messages.";
}

async function restore() {
  const body = {server: $("restore-server").value, recovery_key: $("recovery-key").value,
                confirm: plan.device};
  if (STATE === "new") {
    body.passphrase = $("restore-passphrase").value;
    body.weak_ok = $("restore-weak-ok").checked;
  }
  await post("/api/setup/restore", body);
  location.reload();
}

function guarded(fn, errorId) {
  return async (ev) => {
    if (ev) ev.preventDefault();
    $(errorId).textContent = "";
    try {
      await fn();
    } catch (err) {
      $(errorId).textContent = err.message;
    }
  };
}

document.addEventListener("DOMContentLoaded", () => {
  for (const box of document.querySelectorAll(".new-only")) box.hidden = STATE !== "new";
  $("passphrase").addEventListener("input", judge);
  $("create-form").addEventListener("input", () => { $("create-error").textContent = ""; });
  $("create-form").addEventListener("submit", guarded(create, "create-error"));
  $("join-form").addEventListener("submit", guarded(join, "join-error"));
  $("restore-form").addEventListener("submit", guarded(findBackup, "restore-error"));
  $("restore-go").addEventListener("click", guarded(restore, "restore-error"));
  $("recovery-key").addEventListener("input", () => { $("restore-plan").hidden = true; });
});
