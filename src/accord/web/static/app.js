// Accord web: the page's whole logic. Peer text is only ever set with textContent
// (never innerHTML), links and image sources are built by this code from ids, and
// every state-changing request carries the session's CSRF token (issue 20).
"use strict";

const CSRF = document.querySelector('meta[name="csrf-token"]').content;
const ME = document.querySelector('meta[name="me"]').content;
const EMOJI = ["👍", "❤️", "😂", "😮", "😢"];
const RASTER = new Set(["image/png", "image/jpeg", "image/gif"]);
const $ = (id) => document.getElementById(id);

let current = null;      // id of the conversation on screen
let mode = null;         // {kind: "reply"|"edit", id, text}
let blockedBy = [];      // accounts whose key change is not confirmed yet
let forkIds = [];        // unseen fork alerts of the conversation on screen
let lastSeen = null;     // conv id -> time of the newest message already notified
let safetyFor = null;
let summaries = [];
let older = {conv: null, items: [], more: false, first: null};  // pages loaded above
let openPicker = null;   // message id whose emoji picker is open (kept across re-renders)

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (k === "text") node.textContent = v;
    else if (k === "class") node.className = v;
    else if (k === "on") for (const [ev, fn] of Object.entries(v)) node.addEventListener(ev, fn);
    else node.setAttribute(k, v);
  }
  for (const c of children) if (c) node.append(c);
  return node;
}

async function api(method, path, body, extra) {
  const opts = {method, headers: {}, credentials: "same-origin"};
  if (method !== "GET") opts.headers["X-CSRF-Token"] = CSRF;
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  Object.assign(opts, extra || {});
  const resp = await fetch(path, opts);
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) throw Object.assign(new Error(data.message || data.code || resp.status), data);
  return data;
}

function fmtTime(ms) {
  return new Date(ms).toLocaleTimeString([], {hour: "2-digit", minute: "2-digit"});
}

function fmtDay(ms) {
  return new Date(ms).toLocaleDateString([], {weekday: "long", year: "numeric",
                                              month: "long", day: "numeric"});
}

// -- conversation list and requests ----------------------------------------------

function renderList(state) {
  summaries = state.conversations;
  const list = $("conv-list");
  list.replaceChildren();
  for (const c of state.conversations) {
    const link = el("a", {href: "#c=" + encodeURIComponent(c.id), text: c.name});
    if (c.id === current) link.setAttribute("aria-current", "page");
    const item = el("li", {class: "conv-item"}, link);
    if (c.unread) item.append(el("span", {class: "unread", text: String(c.unread),
                                          title: c.unread + " unread"}));
    if (c.last) {
      item.append(el("span", {class: "preview", text: c.last.sender.split("@")[0] + ": " +
                                                      c.last.text}));
      item.append(el("time", {class: "when", text: fmtTime(c.last.at)}));
    }
    list.append(item);
  }
  const reqs = $("request-list");
  reqs.replaceChildren();
  $("requests").hidden = state.requests.length === 0;
  for (const r of state.requests) {
    const previews = el("ul", {class: "previews"});
    for (const p of r.previews) previews.append(el("li", {text: p}));
    reqs.append(el("li", {class: "request"},
      el("p", {class: "from", text: r.from}), previews,
      el("p", {class: "waiting", text: `${r.waiting} waiting, unread until you accept`}),
      el("button", {type: "button", text: "Accept", on: {click: () => act(
        () => api("POST", `/api/requests/${encodeURIComponent(r.id)}/accept`)
              .then(() => { location.hash = "#c=" + encodeURIComponent(r.id); }))}}),
      el("button", {type: "button", text: "Block", on: {click: () => act(
        () => api("POST", `/api/requests/${encodeURIComponent(r.id)}/block`))}}),
      el("button", {type: "button", text: "Report", title: "Report to your provider " +
        "(who sent it and when; nothing of its content) and block the sender",
        on: {click: () => act(
          () => api("POST", `/api/requests/${encodeURIComponent(r.id)}/report`))}})));
  }
  renderSent(state.sent);
  $("status").textContent = state.online ? "" : "offline";
  renderAlerts(state.alerts);
  notifyNew(state);
}

// Consent requests the provider sent for us (MIMI 5.7): the target and room are the
// peer's strings, set as text only.
function renderSent(sent) {
  const list = $("sent-list");
  list.replaceChildren();
  $("sent").hidden = sent.length === 0;
  for (const r of sent) {
    list.append(el("li", {class: "sent"},
      el("p", {class: "to", text: r.target}),
      r.room ? el("p", {class: "room", text: "for " + r.room}) : null,
      el("p", {class: "waiting", text: "asked " + fmtDay(r.at) + "; waiting for an answer"}),
      el("button", {type: "button", text: "Withdraw", on: {click: () => act(
        () => api("POST", "/api/consent/cancel", {target: r.target, room: r.room}))}})));
  }
}

// -- security alerts and notifications ------------------------------------------------

function seen(ids) {
  return api("POST", "/api/alerts/seen", {ids});
}

function renderAlerts(alerts) {
  const list = $("alert-list");
  list.replaceChildren();
  $("alerts").hidden = alerts.length === 0;
  for (const a of alerts) {
    list.append(el("li", {class: "security-alert"}, el("span", {text: a.text}),
      el("button", {type: "button", text: "Dismiss", "aria-label": "Dismiss alert " + a.id,
                    on: {click: () => act(() => seen([a.id]))}})));
  }
}

function notifyNew(state) {
  // The first listing is the baseline: only what arrives after it is announced.
  const fresh = lastSeen === null ? [] : state.conversations.filter((c) =>
    c.last && c.last.sender !== ME && c.last.at > (lastSeen.get(c.id) || 0));
  lastSeen = new Map(state.conversations.map((c) => [c.id, c.last ? c.last.at : 0]));
  if (!state.notify.enabled || !document.hidden || !("Notification" in window) ||
      Notification.permission !== "granted") return;
  for (const c of fresh) {
    // Plain-text title and body (never markup); the text only when the setting allows.
    const n = state.notify.text ?
      new Notification(c.name, {body: c.last.sender + ": " + c.last.text, tag: c.id}) :
      new Notification("Accord", {body: "New message", tag: c.id});
    n.onclick = () => { window.focus(); location.hash = "#c=" + encodeURIComponent(c.id); };
  }
}

// -- timeline ------------------------------------------------------------------------

function fileNode(convId, m, a, index) {
  const href = `/api/conv/${encodeURIComponent(convId)}/file/${m.id}/${index}`;
  const box = el("div", {class: "file"});
  if (RASTER.has(a.media_type)) {
    box.append(el("img", {src: href + "?inline=1", alt: a.file_name, class: "thumb"}));
  }
  box.append(el("a", {href, download: "", text: a.file_name}));
  box.append(el("span", {class: "size", text: ` (${a.size} bytes)`}));
  return box;
}

function messageNode(convId, m, byId) {
  const own = m.sender === ME;
  const art = el("article", {class: own ? "msg own" : "msg", "data-id": m.id});
  art.append(el("header", {},
    el("span", {class: "sender", text: m.sender}),
    el("time", {class: "when", text: " " + fmtTime(m.at)})));
  if (m.reply_to) {
    const q = byId.get(m.reply_to);
    art.append(el("blockquote", {class: "quote",
      text: q ? `${q.sender}: ${q.deleted ? "message deleted" : q.text}` : "an earlier message"}));
  }
  if (m.deleted) {
    art.append(el("p", {class: "deleted", text: "message deleted"}));
    return art;
  }
  art.append(el("p", {class: "text", text: m.text}));
  m.attachments.forEach((a, i) => art.append(fileNode(convId, m, a, i)));
  const foot = el("footer", {});
  if (m.edited) foot.append(el("span", {class: "edited", text: "edited"}));
  const reactions = el("span", {class: "reactions"});
  for (const [emoji, who] of Object.entries(m.reactions)) {
    if (who.length) reactions.append(el("span", {class: "reaction", text: `${emoji} ${who.length}`,
                                                 title: who.join(", ")}));
  }
  foot.append(reactions);
  if (own && m.read_by.length) foot.append(el("span", {class: "receipt",
                                                      text: `Read by ${m.read_by.length}`}));
  const delivered = Object.values(m.status || {}).filter((s) => s === "delivered").length;
  if (own && delivered) foot.append(el("span", {class: "receipt",
                                                text: `Delivered to ${delivered}`}));
  art.append(foot);
  const actions = el("div", {class: "actions"});
  actions.append(el("button", {type: "button", text: "Reply", on: {click: () =>
    setMode({kind: "reply", id: m.id, text: m.text})}}));
  const picker = el("span", {class: "picker"});
  picker.hidden = openPicker !== m.id;
  for (const e of EMOJI) picker.append(el("button", {type: "button", text: e, on: {click: () =>
    { openPicker = null; return act(() => api("POST", `/api/conv/${encodeURIComponent(convId)}/react`,
                  {message: m.id, emoji: e, remove: (m.reactions[e] || []).includes(ME)})); }}}));
  actions.append(el("button", {type: "button", text: "React",
    "aria-expanded": String(!picker.hidden),
    on: {click: (ev) => { picker.hidden = !picker.hidden;
                          openPicker = picker.hidden ? null : m.id;
                          ev.target.setAttribute("aria-expanded", String(!picker.hidden));
                          if (!picker.hidden) picker.firstChild.focus(); }}}), picker);
  if (own) {
    actions.append(el("button", {type: "button", text: "Edit", on: {click: () =>
      setMode({kind: "edit", id: m.id, text: m.text})}}));
    actions.append(el("button", {type: "button", text: "Delete", on: {click: () =>
      act(() => api("POST", `/api/conv/${encodeURIComponent(convId)}/delete`, {message: m.id}))}}));
  }
  art.append(actions);
  return art;
}

async function loadEarlier() {
  const page = await api("GET", `/api/conv/${encodeURIComponent(current)}?before=${older.first}`);
  older = {conv: current, items: page.items.concat(older.items), more: page.more,
           first: page.first_seq};
}

function renderTimeline(data) {
  const tl = $("timeline");
  const focused = document.activeElement;
  const keep = focused && tl.contains(focused) && focused.closest("article") ?
    [focused.closest("article").dataset.id, focused.textContent] : null;
  const atBottom = tl.scrollTop + tl.clientHeight >= tl.scrollHeight - 40;
  tl.replaceChildren();
  if (older.more) {
    tl.append(el("li", {class: "earlier"}, el("button", {type: "button",
      text: "Load earlier messages", on: {click: () => act(loadEarlier)}})));
  }
  const byId = new Map(data.items.filter((i) => i.type === "message").map((i) => [i.id, i]));
  let day = null;
  for (const i of data.items) {
    const d = fmtDay(i.at);
    if (d !== day) {
      day = d;
      tl.append(el("li", {class: "day", role: "separator", text: d}));
    }
    if (i.type === "event") {
      tl.append(el("li", {class: "event", text: i.description}));
    } else {
      tl.append(el("li", {}, messageNode(data.id, i, byId)));
    }
  }
  if (atBottom) tl.scrollTop = tl.scrollHeight;
  if (keep) {
    const art = [...tl.querySelectorAll("article")].find((a) => a.dataset.id === keep[0]);
    const btn = art && [...art.querySelectorAll("button")].find((x) => x.textContent === keep[1]);
    if (btn) btn.focus();
  }
}

function setKeyAlert(accounts) {
  blockedBy = accounts;
  $("key-alert").hidden = accounts.length === 0;
  $("key-alert-text").textContent = accounts.length ? "The keys of " + accounts.join(", ") +
    " changed. Compare the safety number in Members, or confirm to send anyway." : "";
  $("send").disabled = blockedBy.length > 0 || forkIds.length > 0;
}

function setForkAlert(alerts) {
  forkIds = alerts.map((a) => a.id);
  $("fork-alert").hidden = alerts.length === 0;
  $("fork-alert-text").textContent = alerts.map((a) => a.text).join(" ");
  $("send").disabled = blockedBy.length > 0 || forkIds.length > 0;
}

async function showConversation() {
  if (!current) return;
  const data = await api("GET", `/api/conv/${encodeURIComponent(current)}`);
  $("empty").hidden = true;
  $("conv").hidden = false;
  $("conv-title").textContent = data.name;
  setForkAlert(data.fork);
  setKeyAlert(data.key_change);
  if (older.conv !== current || !older.items.length) older = {conv: current, items: [], more: data.more,
                                       first: data.first_seq};
  const seen = new Set(data.items.filter((i) => i.id).map((i) => i.id));
  renderTimeline({id: data.id, items: older.items.filter((i) => !i.id || !seen.has(i.id))
                                       .concat(data.items)});
  const s = summaries.find((c) => c.id === current);
  if (s && s.unread && document.visibilityState === "visible" && !blockedBy.length &&
      !forkIds.length) {
    await api("POST", `/api/conv/${encodeURIComponent(current)}/read`);
  }
  if (!$("members").hidden) await showMembers();
}

// -- members and safety numbers ---------------------------------------------------

async function showMembers() {
  const data = await api("GET", `/api/conv/${encodeURIComponent(current)}/members`);
  const list = $("member-list");
  list.replaceChildren();
  for (const mb of data.members) {
    const item = el("li", {class: "member"},
      el("span", {class: "account", text: mb.account + (mb.admin ? " (admin)" : "")}),
      el("span", {class: "badge", text: mb.verified ? " verified" : ""}),
      // T06: their provider offers no key transparency (a plain MIMI peer)
      el("span", {class: "badge unlogged",
                  text: mb.transparency_checked ? "" : " not transparency-checked"}),
      el("span", {class: "devices", text: ` ${mb.devices.length} device(s): ` +
                                           mb.devices.join(", ")}));
    const admins = data.members.filter((x) => x.admin).map((x) => x.account);
    item.append(el("button", {type: "button", text: mb.admin ? "Remove admin" : "Make admin",
      "aria-label": (mb.admin ? "Remove admin " : "Make admin ") + mb.account,
      on: {click: () => act(() => manage({action: "admins", accounts: mb.admin ?
        admins.filter((x) => x !== mb.account) : admins.concat([mb.account])}))}}));
    if (!mb.me) item.append(el("button", {type: "button", text: "Verify",
      "aria-label": "Verify " + mb.account, on: {click: () => act(() => showSafety(mb.account))}}),
      el("button", {type: "button", text: "Remove", "aria-label": "Remove " + mb.account,
        on: {click: () => act(() => manage({action: "remove", account: mb.account}))}}));
    list.append(item);
  }
}

async function showSafety(account) {
  const data = await api("GET", `/api/safety/${encodeURIComponent(account)}`);
  safetyFor = account;
  $("safety").hidden = false;
  $("safety-who").textContent = "Safety number with " + account;
  $("safety-digits").textContent = data.digits;
  $("safety-qr").src = `/api/safety/${encodeURIComponent(account)}/qr`;
}

// -- search and managing a conversation ---------------------------------------------

function marked(text, spans) {
  // the snippet in pieces: plain text nodes, the matches in <mark> (never markup from text)
  const p = el("p", {class: "snippet"});
  let at = 0;
  for (const [a, b] of spans) {
    p.append(document.createTextNode(text.slice(at, a)), el("mark", {text: text.slice(a, b)}));
    at = b;
  }
  p.append(document.createTextNode(text.slice(at)));
  return p;
}

async function runSearch() {
  const params = new URLSearchParams({q: $("search-q").value, sender: $("search-sender").value});
  for (const [key, id, end] of [["since", "search-since", 0], ["until", "search-until", 86399999]]) {
    if ($(id).value) params.set(key, String(Date.parse($(id).value + "T00:00:00") + end));
  }
  if ($("search-here").checked && current) params.set("conv", current);
  else if ($("search-conv").value.trim()) params.set("conv", $("search-conv").value.trim());
  const data = await api("GET", "/api/search?" + params);
  const list = $("hit-list");
  list.replaceChildren();
  $("search-results").hidden = false;
  if (!data.hits.length) list.append(el("li", {text: "No messages found"}));
  for (const h of data.hits) {
    list.append(el("li", {class: "hit"},
      el("a", {href: "#c=" + encodeURIComponent(h.chat_id), text: h.chat_label}),
      el("span", {class: "sender", text: " " + h.sender_label}),
      marked(h.snippet, h.spans)));
  }
}

function manage(body) {
  return api("POST", `/api/conv/${encodeURIComponent(current)}/manage`, body);
}

function wireManage() {
  $("search-form").addEventListener("submit", (ev) => { ev.preventDefault(); act(runSearch); });
  $("add-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    act(() => manage({action: "add", members: $("add-members").value})
      .then(() => { $("add-members").value = ""; }));
  });
  $("rename-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    act(() => manage({action: "rename", name: $("rename-name").value})
      .then(() => { $("rename-name").value = ""; }));
  });
  $("timer-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    act(() => manage({action: "timer", seconds: Number($("timer-seconds").value)}));
  });
  $("leave").addEventListener("click", () => act(() => manage({action: "leave"})));
}

// -- settings and devices ---------------------------------------------------------------

let linkTimer = null;

async function showSettings() {
  const data = await api("GET", "/api/settings");
  const list = $("device-list");
  list.replaceChildren();
  for (const d of data.devices) {
    const item = el("li", {class: "device"},
      el("span", {text: d.id + (d.this ? " (this device)" : "")}),
      el("span", {class: "fpr", text: " " + d.fingerprint}));
    if (!d.this) item.append(el("button", {type: "button", text: "Remove",
      "aria-label": "Remove device " + d.id, on: {click: () => act(() =>
        api("POST", `/api/devices/${encodeURIComponent(d.id)}/remove`).then(showSettings))}}));
    list.append(item);
  }
  $("cover").checked = data.cover;
  $("notify").checked = data.notify.enabled;
  $("notify-text").checked = data.notify.text;
  $("default-timer").value = String(data.timer);
}

function saveNotify() {
  return api("POST", "/api/settings",
             {notify: {enabled: $("notify").checked, text: $("notify-text").checked}});
}

async function pollLink() {
  const data = await api("GET", "/api/devices/link");
  if (data.fingerprint) {
    clearInterval(linkTimer);
    $("link-fpr").textContent = "New device key fingerprint: " + data.fingerprint +
      ". Certify only if the new device shows the same.";
    $("link-certify").hidden = false;
  }
}

function wireSettings() {
  $("settings-toggle").addEventListener("click", () => {
    const panel = $("settings");
    panel.hidden = !panel.hidden;
    $("settings-toggle").setAttribute("aria-expanded", String(!panel.hidden));
    if (!panel.hidden) act(showSettings);
  });
  $("notify").addEventListener("change", () => act(async () => {
    // Asked here, on the person's own click, never on page load.
    if ($("notify").checked && "Notification" in window) {
      const answer = await Notification.requestPermission();
      if (answer !== "granted") $("notify").checked = false;
      $("notify-status").textContent = answer === "granted" ? "Notifications are on" :
        "The browser did not allow notifications";
    }
    await saveNotify();
  }));
  $("notify-text").addEventListener("change", () => act(saveNotify));
  $("settings-save").addEventListener("click", () => act(() => api("POST", "/api/settings",
    {cover: $("cover").checked, timer: Number($("default-timer").value)})));
  $("link-open").addEventListener("click", () => act(async () => {
    const data = await api("POST", "/api/devices/link");
    $("link").hidden = false;
    $("link-code").textContent = data.code;
    $("link-qr").src = "/api/devices/link/qr?" + Date.now();
    $("link-fpr").textContent = "Waiting for the new device…";
    $("link-certify").hidden = true;
    clearInterval(linkTimer);
    linkTimer = setInterval(() => pollLink().catch(() => clearInterval(linkTimer)), 1000);
  }));
  $("backup-create").addEventListener("click", () => act(async () => {
    const data = await api("POST", "/api/backup");
    $("backup-key").hidden = false;
    $("backup-key-text").textContent = data.recovery_key;
  }));
  $("restore-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    act(async () => {
      const data = await api("POST", "/api/backup/restore", {recovery_key: $("restore-key").value});
      $("restore-key").value = "";
      $("restore-status").textContent = `Restored ${data.messages} messages`;
    });
  });
  $("account-delete").addEventListener("click", () => act(async () => {
    await api("POST", "/api/account/delete", {confirm: $("delete-confirm").value});
    $("account-status").textContent = "account deleted; this device keeps its history offline";
  }));
  $("link-certify").addEventListener("click", () => act(async () => {
    const data = await api("POST", "/api/devices/link/certify");
    $("link-fpr").textContent = "Linked " + data.device;
    $("link-certify").hidden = true;
    await showSettings();
  }));
}

// -- composer ------------------------------------------------------------------------

function setMode(m) {
  mode = m;
  $("mode").hidden = !m;
  if (m) {
    $("mode-text").textContent = (m.kind === "reply" ? "Replying to: " : "Editing: ") + m.text;
    if (m.kind === "edit") $("message").value = m.text;
  }
  $("message").focus();
}

async function send() {
  const text = $("message").value;
  if (!text.trim() || !current) return;
  const body = {text};
  if (mode && mode.kind === "reply") body.reply_to = mode.id;
  if (mode && mode.kind === "edit") body.edit = mode.id;
  await api("POST", `/api/conv/${encodeURIComponent(current)}/send`, body);
  $("message").value = "";
  setMode(null);
}

function upload(file) {
  // XMLHttpRequest for its upload progress events (fetch has none).
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    const bar = $("upload-progress");
    xhr.open("POST", `/api/conv/${encodeURIComponent(current)}/upload`);
    xhr.setRequestHeader("X-CSRF-Token", CSRF);
    xhr.setRequestHeader("X-File-Name", encodeURIComponent(file.name));
    xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
    bar.hidden = false;
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) bar.value = 100 * e.loaded / e.total; };
    xhr.onload = () => {
      bar.hidden = true;
      let data = {};
      try { data = JSON.parse(xhr.responseText); } catch (e) { /* keep {} */ }
      if (xhr.status === 200) resolve(data);
      else reject(Object.assign(new Error(data.message || xhr.status), data));
    };
    xhr.onerror = () => { bar.hidden = true; reject(new Error("upload failed")); };
    xhr.send(file);
  });
}

async function act(fn) {
  $("send-error").textContent = "";
  try {
    await fn();
  } catch (err) {
    if (err.code === "key_change") setKeyAlert(err.accounts);
    $("send-error").textContent = err.message;
  }
  await refresh();
}

// -- live updates ----------------------------------------------------------------------

let refreshing = null;
async function refresh() {
  if (refreshing) return refreshing;
  refreshing = (async () => {
    try {
      renderList(await api("GET", "/api/state"));
      current = decodeURIComponent((location.hash.match(/^#c=(.+)$/) || [])[1] || "") || null;
      await showConversation();
    } catch (err) {
      $("status").textContent = err.message;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

function connect() {
  const events = new EventSource("/events");
  events.onmessage = () => refresh();
}

document.addEventListener("DOMContentLoaded", () => {
  $("new-toggle").addEventListener("click", () => {
    const form = $("new-form");
    form.hidden = !form.hidden;
    $("new-toggle").setAttribute("aria-expanded", String(!form.hidden));
    if (!form.hidden) $("new-name").focus();
  });
  $("new-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    $("new-error").textContent = "";
    api("POST", "/api/conv", {name: $("new-name").value, members: $("new-members").value})
      .then((data) => {
        $("new-form").reset();
        $("new-form").hidden = true;
        location.hash = "#c=" + encodeURIComponent(data.id);
      })
      .catch((err) => {
        $("new-error").textContent = err.message;
        if (err.code === "consent_requested") refresh();  // shows the request as waiting
      });
  });
  $("composer").addEventListener("submit", (ev) => { ev.preventDefault(); act(send); });
  $("message").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      if (!$("send").disabled) act(send);
    }
  });
  $("mode-cancel").addEventListener("click", () => { setMode(null); $("message").value = ""; });
  $("file").addEventListener("change", () => {
    const f = $("file").files[0];
    if (f) act(() => upload(f)).then(() => { $("file").value = ""; });
  });
  const main = $("main");
  main.addEventListener("dragover", (ev) => {
    if (!current) return;
    ev.preventDefault();
    $("composer").classList.add("dropping");
  });
  main.addEventListener("dragleave", () => $("composer").classList.remove("dropping"));
  main.addEventListener("drop", (ev) => {
    ev.preventDefault();
    $("composer").classList.remove("dropping");
    const f = ev.dataTransfer.files[0];
    if (f && current) act(() => upload(f));
  });
  $("fork-confirm").addEventListener("click", () => act(async () => {
    await seen(forkIds);
    setForkAlert([]);
  }));
  $("key-confirm").addEventListener("click", () => act(async () => {
    await api("POST", `/api/conv/${encodeURIComponent(current)}/confirm-keys`,
              {accounts: blockedBy});
    setKeyAlert([]);
  }));
  $("members-toggle").addEventListener("click", () => {
    const panel = $("members");
    panel.hidden = !panel.hidden;
    $("members-toggle").setAttribute("aria-expanded", String(!panel.hidden));
    $("safety").hidden = true;
    if (!panel.hidden) act(showMembers);
  });
  $("safety-mark").addEventListener("click", () => act(async () => {
    await api("POST", `/api/verify/${encodeURIComponent(safetyFor)}`);
    $("safety").hidden = true;
  }));
  window.addEventListener("hashchange", () => {
    setMode(null);
    setKeyAlert([]);
    setForkAlert([]);
    refresh();
  });
  document.addEventListener("visibilitychange", () => refresh());
  wireManage();
  wireSettings();
  connect();
  refresh();
});
