// The supervisor page of the 12345 hotline: the live wallboard (one snapshot a
// second at most, over the supervisor WebSocket), alerts, and actions: force an
// agent's state, move a waiting call, listen / whisper / barge through the
// supervisor's own WebRTC connection; the overdue work orders and the hooks'
// dead letters (with a retry), refreshed every 10 s. Plain JavaScript, no build step.
"use strict";

const T = {
  zh: {
    title: "12345 热线班长席", language: "语言", login: "登录", supId: "账号", password: "密码", loginBtn: "登录",
    fQueue: "队列", fSkill: "技能", fPool: "坐席池", all: "全部", primary: "主席", backup: "备席", hearing: "听到",
    alerts: "告警", queues: "队列", queue: "队列", waiting: "排队", longest: "最长等待", sl: "服务水平", offered: "呼入",
    answered: "接通", abandoned: "放弃", overflowed: "溢出", avgAnswer: "平均应答", ewt: "预计等待", calls: "通话", call: "通话", caller: "来电",
    state: "状态", agent: "坐席", time: "时长", actions: "操作", agents: "坐席", name: "姓名", pool: "坐席池", inState: "持续",
    callsToday: "今日通话", talk: "通话时长", current: "当前通话", ready: "就绪", notReady: "示忙", logout: "签出",
    listen: "监听", whisper: "耳语", barge: "强插", leave: "退出", move: "转移", live: "实时", offline: "连接中断，重连中…",
    mediaOk: "监听通道就绪", mediaNo: "监听通道未连接", badLogin: "账号或密码错误，或不是班长账号。",
    "logged-out": "未登录", "not-ready": "示忙", reserved: "振铃", "on-call": "通话", "wrap-up": "话后", ringing: "振铃", ivr: "菜单", routed: "排队", connected: "通话",
    workOrders: "工单", overdueOrders: "超期工单", ticketId: "工单号", category: "类别", department: "承办单位", status: "状态",
    deadline: "办结时限", overdueBy: "超期", noOverdue: "没有超期工单", deadLetters: "推送失败（死信）", sink: "推送目标",
    eventType: "事件", attempts: "尝试次数", lastError: "最后错误", deadSince: "失败时间", noDead: "没有推送失败的事件",
    retry: "重新推送", retried: "已重新推送", ordersFailed: "工单信息获取失败：", days: "天", hours: "小时",
    consultation: "咨询", help: "求助", suggestion: "建议", praise: "表扬", complaint: "投诉", report: "举报",
    open: "待派", dispatched: "已派单", replied: "已回复", closed: "已办结", reopened: "重办",
  },
  en: {
    title: "12345 Hotline Supervisor", language: "Language", login: "Log in", supId: "Account", password: "Password", loginBtn: "Log in",
    fQueue: "Queue", fSkill: "Skill", fPool: "Pool", all: "all", primary: "primary", backup: "backup", hearing: "Hearing",
    alerts: "Alerts", queues: "Queues", queue: "Queue", waiting: "Waiting", longest: "Longest wait", sl: "Service level", offered: "Offered",
    answered: "Answered", abandoned: "Abandoned", overflowed: "Overflowed", avgAnswer: "Avg answer", ewt: "Est. wait", calls: "Calls", call: "Call", caller: "Caller",
    state: "State", agent: "Agent", time: "Time", actions: "Actions", agents: "Agents", name: "Name", pool: "Pool", inState: "In state",
    callsToday: "Calls today", talk: "Talk time", current: "Current call", ready: "Ready", notReady: "Not ready", logout: "Log out",
    listen: "Listen", whisper: "Whisper", barge: "Barge", leave: "Leave", move: "Move", live: "live", offline: "disconnected, reconnecting…",
    mediaOk: "monitor audio ready", mediaNo: "monitor audio not connected", badLogin: "Wrong account or password, or not a supervisor.",
    "logged-out": "logged out", "not-ready": "not ready", reserved: "ringing", "on-call": "on call", "wrap-up": "wrap-up", ringing: "ringing", ivr: "menu", routed: "waiting", connected: "talking",
    workOrders: "Work orders", overdueOrders: "Overdue work orders", ticketId: "Work order", category: "Category", department: "Department", status: "Status",
    deadline: "Deadline", overdueBy: "Overdue by", noOverdue: "No overdue work orders", deadLetters: "Undelivered events (dead letters)", sink: "Sink",
    eventType: "Event", attempts: "Attempts", lastError: "Last error", deadSince: "Given up at", noDead: "No undelivered events",
    retry: "Retry", retried: "retried", ordersFailed: "Work orders could not be loaded: ", days: "d", hours: "h",
    consultation: "consultation", help: "help request", suggestion: "suggestion", praise: "praise", complaint: "complaint", report: "report",
    open: "open", dispatched: "dispatched", replied: "replied", closed: "closed", reopened: "reopened",
  },
};
const $ = (id) => document.getElementById(id);
let lang = localStorage.getItem("hotline.lang") || (navigator.language || "zh").slice(0, 2);
if (!T[lang]) lang = "zh";
const t = (k) => (T[lang] && T[lang][k]) || k;

// Everything the page knows; window.sup exposes it to tests.
const S = { id: "", token: "", ws: null, board: null, boards: 0, dir: { agents: [], queues: [] }, pc: null, mic: null,
  media: "none", monitoring: null, heardHz: 0, level: 0, errors: [],
  orders: { overdue: [], dead: [], loads: 0, error: "" } };
window.sup = S;

function translate() {
  document.documentElement.lang = lang;
  document.querySelectorAll("[data-t]").forEach((el) => { el.textContent = t(el.dataset.t); });
  $("lang").value = lang;
  render();
  renderOrders();
}
$("lang").addEventListener("change", () => { lang = $("lang").value; localStorage.setItem("hotline.lang", lang); translate(); });

async function api(method, path, body) {
  const res = await fetch(path, { method, headers: { "Content-Type": "application/json", Authorization: "Bearer " + S.token },
    body: body === undefined ? undefined : JSON.stringify(body) });
  let data = null;
  try { data = await res.json(); } catch (_) { /* empty */ }
  if (!res.ok) { const e = new Error((data && data.message) || res.statusText); e.status = res.status; throw e; }
  return data;
}

$("loginForm").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("loginError").textContent = "";
  try {
    const s = await api("POST", "/api/v1/login", { agent: $("supId").value.trim(), password: $("password").value });
    if (s.role !== "supervisor") throw new Error("not a supervisor");
    S.id = s.agent;
    S.token = s.token;
  } catch (err) {
    $("loginError").textContent = t("badLogin");
    return;
  }
  $("login").hidden = true;
  $("board").hidden = false;
  $("who").hidden = false;
  $("who").textContent = S.id;
  S.dir = await api("GET", "/api/v1/directory");
  fillFilters();
  connect();
  loadOrders();
  setInterval(loadOrders, 10000);
  openMedia().catch((err) => { S.errors.push("media: " + err.message); renderMedia(); });
});

function fillFilters() {
  const qs = $("fQueue"), ss = $("fSkill");
  const skills = new Set();
  for (const q of S.dir.queues) { qs.add(new Option(q.name, q.name)); skills.add(q.skill); }
  for (const a of S.dir.agents) for (const k of Object.keys(a.skills || {})) skills.add(k);
  [...skills].sort().forEach((k) => ss.add(new Option(k, k)));
  ["fQueue", "fSkill", "fPool"].forEach((id) => $(id).addEventListener("change", render));
}

// ---- the wallboard WebSocket ---------------------------------------------------

let retries = 0;
function connect() {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(proto + "//" + location.host + "/api/v1/supervisors/" + S.id + "/ws?token=" + encodeURIComponent(S.token));
  S.ws = ws;
  ws.onopen = () => { retries = 0; $("conn").textContent = t("live"); };
  ws.onmessage = (ev) => {
    let m;
    try { m = JSON.parse(ev.data); } catch (_) { return; }
    if (m.type === "wallboard") { S.board = m; S.boards++; render(); }
  };
  ws.onclose = () => {
    if (ws !== S.ws || !S.token) return;
    $("conn").textContent = t("offline");
    retries++;
    setTimeout(connect, Math.min(5000, 300 * retries));
  };
}

const fmt = (s) => { s = Math.max(0, Math.floor(s)); const m = Math.floor(s / 60); return (m >= 60 ? Math.floor(m / 60) + ":" + String(m % 60).padStart(2, "0") : String(m)) + ":" + String(s % 60).padStart(2, "0"); };
function cell(tr, text, cls) { const td = tr.insertCell(); td.textContent = text; if (cls) td.className = cls; return td; }
function btn(td, label, fn, on) { const b = document.createElement("button"); b.textContent = label; if (on) b.className = "on"; b.onclick = fn; td.appendChild(b); return b; }

function render() {
  const b = S.board;
  if (!b) return;
  const fq = $("fQueue").value, fs = $("fSkill").value, fp = $("fPool").value;
  $("totals").textContent = Object.entries(b.totals || {}).map(([k, v]) => t(k) + " " + v).join(" · ");
  const al = $("alertList");
  al.textContent = "";
  for (const a of b.alerts) { const li = document.createElement("li"); li.textContent = a.subject + ": " + a.text; li.dataset.kind = a.kind; al.appendChild(li); }

  const qb = $("queues").tBodies[0];
  qb.textContent = "";
  for (const q of b.queues) {
    if ((fq && q.name !== fq) || (fs && q.skill !== fs)) continue;
    const tr = qb.insertRow();
    tr.dataset.queue = q.name;
    if (q.at_risk) tr.className = "risk";
    cell(tr, q.name);
    cell(tr, q.waiting);
    cell(tr, q.waiting ? fmt(q.longest_wait_seconds) : "—");
    cell(tr, q.service_level === null ? "—" : Math.round(q.service_level * 100) + "% / " + q.target_percent + "%");
    cell(tr, q.offered); cell(tr, q.answered); cell(tr, q.abandoned); cell(tr, q.overflowed);
    cell(tr, q.answered ? q.average_answer_seconds.toFixed(1) + " s" : "—");
    cell(tr, fmt(q.estimated_wait_seconds));
  }

  const now = Date.now();
  const cb = $("calls").tBodies[0];
  cb.textContent = "";
  for (const c of b.calls) {
    if (fq && c.queue !== fq) continue;
    const tr = cb.insertRow();
    tr.dataset.call = c.id;
    cell(tr, c.id); cell(tr, c.caller); cell(tr, t(c.state) + (c.held ? " ⏸" : "")); cell(tr, c.queue || "—"); cell(tr, c.agent || "—");
    cell(tr, fmt((now - new Date(c.since).getTime()) / 1000));
    const td = tr.insertCell();
    if (c.state === "connected") {
      for (const mode of ["listen", "whisper", "barge"]) {
        btn(td, t(mode), () => monitor(c.id, mode), S.monitoring && S.monitoring.call === c.id && S.monitoring.mode === mode).dataset.mode = mode;
      }
      if (S.monitoring && S.monitoring.call === c.id) btn(td, t("leave"), () => monitor(c.id, "leave")).dataset.mode = "leave";
    } else if (c.state === "routed") {
      const sel = document.createElement("select");
      for (const q of S.dir.queues) sel.add(new Option(q.name, q.name, false, q.name === c.queue));
      const pr = document.createElement("input");
      pr.type = "number"; pr.min = "1"; pr.max = "9"; pr.className = "prio"; pr.placeholder = "prio";
      td.append(sel, pr);
      btn(td, t("move"), () => move(c.id, sel.value === c.queue ? "" : sel.value, parseInt(pr.value || "0", 10))).dataset.action = "move";
    }
  }

  const dir = new Map(S.dir.agents.map((a) => [a.id, a]));
  const ab = $("agents").tBodies[0];
  ab.textContent = "";
  for (const a of b.agents) {
    const d = dir.get(a.id) || {};
    if (fp && a.pool !== fp) continue;
    if (fs && !(a.skills && a.skills[fs])) continue;
    if (a.state === "logged-out" && !fq && !fs && !fp && b.agents.length > 60) continue; // a long list: the logged-in ones
    const tr = ab.insertRow();
    tr.dataset.agent = a.id;
    cell(tr, a.id); cell(tr, a.name || d.name || ""); cell(tr, t(a.pool || d.pool || ""));
    cell(tr, t(a.state) + (a.reason ? " (" + a.reason + ")" : ""), "s-" + a.state);
    cell(tr, a.since ? fmt(a.in_state_seconds) : "—");
    cell(tr, a.calls); cell(tr, fmt(a.talk_seconds)); cell(tr, a.call || "—");
    const td = tr.insertCell();
    if (a.state !== "logged-out") {
      btn(td, t("ready"), () => setState(a.id, "ready")).dataset.action = "ready";
      btn(td, t("notReady"), () => setState(a.id, "not-ready")).dataset.action = "not-ready";
      btn(td, t("logout"), () => setState(a.id, "logged-out")).dataset.action = "logout";
    }
  }
}

async function setState(agent, state) {
  try { await api("POST", "/api/v1/agents/" + agent + "/state", state === "not-ready" ? { state, reason: "supervisor" } : { state }); }
  catch (err) { S.errors.push(agent + ": " + err.message); }
}
async function move(call, queue, priority) {
  const body = {};
  if (queue) body.queue = queue;
  if (priority) body.priority = priority;
  try { await api("POST", "/api/v1/calls/" + call + "/move", body); } catch (err) { S.errors.push(call + ": " + err.message); }
}
async function monitor(call, mode) {
  try {
    await api("POST", "/api/v1/supervisors/" + S.id + "/monitor", { call, mode });
    S.monitoring = mode === "leave" ? null : { call, mode };
  } catch (err) { S.errors.push(call + " " + mode + ": " + err.message); }
  render();
}

// ---- work orders: the overdue ones and the hooks' dead letters ------------------

// loadOrders fetches the overdue work orders (those still not closed) and the
// deliveries the hooks gave up on; called after login and every 10 s.
async function loadOrders() {
  try {
    const [o, d] = await Promise.all([api("GET", "/api/v1/tickets?overdue=1&limit=500"), api("GET", "/api/v1/hooks/dead-letters")]);
    S.orders.overdue = (o.tickets || []).filter((w) => w.status !== "closed");
    S.orders.dead = d.dead_letters || [];
    S.orders.error = "";
  } catch (err) {
    S.orders.error = err.message;
  }
  S.orders.loads++;
  renderOrders();
}

async function retryDelivery(key, button) {
  button.disabled = true;
  try {
    await api("POST", "/api/v1/hooks/dead-letters/" + encodeURIComponent(key) + "/retry");
    button.textContent = t("retried");
  } catch (err) {
    S.errors.push("retry " + key + ": " + err.message);
    button.disabled = false;
  }
  await loadOrders();
}

const when = (s) => (s ? new Date(s).toLocaleString(lang === "zh" ? "zh-CN" : "en-GB", { hour12: false }) : "—");
function overdueBy(deadline) {
  const h = Math.max(0, (Date.now() - new Date(deadline).getTime()) / 3600000);
  return h >= 24 ? Math.floor(h / 24) + " " + t("days") + " " + Math.floor(h % 24) + " " + t("hours") : Math.floor(h) + " " + t("hours");
}
const orderOf = (ev) => (ev && ((ev.order && ev.order.id) || (ev.survey && ev.survey.order) || (ev.recording && ev.recording.order))) || "";

function renderOrders() {
  const o = S.orders;
  const ob = $("overdue").tBodies[0];
  ob.textContent = "";
  for (const w of o.overdue) {
    const tr = ob.insertRow();
    tr.dataset.ticket = w.id;
    cell(tr, w.id); cell(tr, t(w.category)); cell(tr, w.department || "—"); cell(tr, t(w.status));
    cell(tr, w.agent || "—"); cell(tr, when(w.deadline)); cell(tr, overdueBy(w.deadline), "late");
  }
  $("overdue").hidden = o.overdue.length === 0;
  $("noOverdue").hidden = o.overdue.length !== 0;
  $("overdueCount").textContent = o.overdue.length ? "(" + o.overdue.length + ")" : "";

  const db = $("dead").tBodies[0];
  db.textContent = "";
  for (const d of o.dead) {
    const ev = d.Event || {};
    const tr = db.insertRow();
    tr.dataset.key = ev.key;
    tr.dataset.sink = d.Sink;
    cell(tr, d.Sink); cell(tr, ev.type || "—"); cell(tr, orderOf(ev) || "—"); cell(tr, d.Attempts);
    cell(tr, d.LastError || "—", "err"); cell(tr, when(d.Dead));
    const b = btn(tr.insertCell(), t("retry"), () => retryDelivery(ev.key, b));
    b.dataset.action = "retry";
  }
  $("dead").hidden = o.dead.length === 0;
  $("noDead").hidden = o.dead.length !== 0;
  $("deadCount").textContent = o.dead.length ? "(" + o.dead.length + ")" : "";
  $("ordersError").textContent = o.error ? t("ordersFailed") + o.error : "";
}

// ---- the supervisor's own media (listen, whisper, barge) -----------------------

async function openMedia() {
  S.mic = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
  const cfg = await api("GET", "/api/v1/webrtc");
  const pc = new RTCPeerConnection({ iceServers: cfg.ice_servers || [] });
  S.pc = pc;
  const tx = pc.addTransceiver(S.mic.getAudioTracks()[0], { direction: "sendrecv", streams: [S.mic] });
  if (tx.setCodecPreferences && RTCRtpReceiver.getCapabilities) {
    const caps = RTCRtpReceiver.getCapabilities("audio").codecs.filter((c) => /^audio\/(PCMU|PCMA|telephone-event)$/i.test(c.mimeType));
    if (caps.length) tx.setCodecPreferences(caps);
  }
  pc.ontrack = (ev) => { const st = ev.streams[0] || new MediaStream([ev.track]); $("remote").srcObject = st; analyse(st); };
  pc.onconnectionstatechange = () => { S.media = pc.connectionState; renderMedia(); };
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  await new Promise((r) => { if (pc.iceGatheringState === "complete") r(); else { pc.onicegatheringstatechange = () => pc.iceGatheringState === "complete" && r(); setTimeout(r, 3000); } });
  const ans = await api("POST", "/api/v1/agents/" + S.id + "/media", { sdp: pc.localDescription.sdp, restart: false });
  await pc.setRemoteDescription({ type: "answer", sdp: ans.sdp });
}
function renderMedia() { $("media").textContent = S.media === "connected" ? t("mediaOk") : t("mediaNo"); }

function analyse(stream) {
  const ctx = new AudioContext();
  const an = ctx.createAnalyser();
  an.fftSize = 8192;
  ctx.createMediaStreamSource(stream).connect(an);
  const bins = new Float32Array(an.frequencyBinCount), wave = new Float32Array(an.fftSize);
  setInterval(() => {
    an.getFloatFrequencyData(bins);
    an.getFloatTimeDomainData(wave);
    let sum = 0;
    for (const v of wave) sum += v * v;
    S.level = Math.sqrt(sum / wave.length);
    // The two loudest peaks: a listen hears two voices.
    const peaks = [];
    for (let i = 2; i < bins.length - 1; i++) if (bins[i] > bins[i - 1] && bins[i] >= bins[i + 1] && bins[i] > -60) peaks.push([bins[i], i]);
    peaks.sort((x, y) => y[0] - x[0]);
    S.heard = S.level > 0.005 ? peaks.slice(0, 3).map((p) => Math.round((p[1] * ctx.sampleRate) / an.fftSize)) : [];
    S.heardHz = S.heard[0] || 0;
    $("hearing").textContent = S.heard.length ? S.heard.join(" + ") + " Hz" : "—";
  }, 100);
}

translate();
