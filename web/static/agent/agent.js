// The agent page of the 12345 hotline: log in, check the microphone and the media
// connection, take calls. Plain JavaScript, no build step; it speaks the engine's
// REST API and the agent WebSocket (README "HTTP API").
"use strict";

const T = {
  zh: {
    title: "12345 热线坐席", language: "语言", login: "登录", agentId: "工号", password: "密码", loginBtn: "登录",
    precheck: "通话前检查", chkMic: "麦克风", chkMedia: "媒体连接", chkSignal: "信令连接", retry: "重试",
    state: "状态", ready: "就绪", notReady: "示忙", logout: "退出", rBreak: "小休", rMeal: "用餐", rTraining: "培训", rMeeting: "会议",
    incoming: "来电", caller: "来电号码", desk: "业务", menu: "菜单选择", waited: "等待", answer: "接听", reject: "拒接",
    onCall: "通话中", held: "保持", muted: "静音", hearing: "听到", hangup: "挂断", hold: "保持", resume: "恢复", mute: "静音", unmute: "取消静音",
    transferTo: "转接到", trQueue: "队列", trAgent: "坐席", trNumber: "号码", transfer: "转接", events: "事件",
    "logged-out": "未登录", "not-ready": "示忙", reserved: "振铃", "on-call": "通话", "wrap-up": "话后处理",
    micMissing: "没有找到麦克风：请插入耳麦后点“重试”。", micDenied: "浏览器不允许使用麦克风：请在地址栏的权限设置中允许麦克风，然后点“重试”。",
    micOther: "麦克风无法打开：", mediaFailed: "媒体连接失败：请检查网络或防火墙是否放行引擎的 UDP 端口，然后点“重试”。",
    signalDown: "与服务器的连接已断开，正在重连…", badLogin: "工号或密码错误。", tooMany: "登录失败次数过多，请稍后再试。",
    myOrders: "我的工单", overdue: "已超期", open: "处理中", closed: "已办结", replied: "已答复", reopened: "重新办理",
    afterCall: "话后登记", category: "类别", district: "区", address: "地址", summary: "诉求摘要", direct: "直接答复",
    dispatched: "派单至", createTicket: "生成工单", skip: "不登记", ticketMade: "已生成工单",
    consultation: "咨询", help: "求助", suggestion: "建议", praise: "表扬", complaint: "投诉", report: "举报",
    supervisor: "班长", listen: "监听中", whisper: "耳语中", barge: "强插中", leave: "已退出",
    consult: "咨询", consulting: "咨询中", complete: "完成转接", cancelConsult: "取消咨询",
    started: "振铃", connected: "已接通",
    recPause: "暂停录音", recResume: "恢复录音", recPaused: "录音已暂停",
    rtt: "往返时延", seconds: "秒", restoring: "媒体连接中断，正在恢复…", restored: "媒体连接已恢复",
    moving: "本站点不可用，转到备用站点", moved: "已转到站点", moveLogin: "请在此站点重新登录。",
  },
  en: {
    title: "12345 Hotline Agent", language: "Language", login: "Log in", agentId: "Agent ID", password: "Password", loginBtn: "Log in",
    precheck: "Pre-call check", chkMic: "Microphone", chkMedia: "Media connection", chkSignal: "Signalling", retry: "Retry",
    state: "State", ready: "Ready", notReady: "Not ready", logout: "Log out", rBreak: "Break", rMeal: "Meal", rTraining: "Training", rMeeting: "Meeting",
    incoming: "Incoming call", caller: "Caller", desk: "Desk", menu: "Menu choices", waited: "Waited", answer: "Answer", reject: "Reject",
    onCall: "On call", held: "Held", muted: "Muted", hearing: "Hearing", hangup: "Hang up", hold: "Hold", resume: "Resume", mute: "Mute", unmute: "Unmute",
    transferTo: "Transfer to", trQueue: "Queue", trAgent: "Agent", trNumber: "Number", transfer: "Transfer", events: "Events",
    "logged-out": "logged out", "not-ready": "not ready", reserved: "ringing", "on-call": "on call", "wrap-up": "wrap-up",
    micMissing: "No microphone found: plug in your headset, then press Retry.", micDenied: "The browser does not allow the microphone: allow it in the address bar's site permissions, then press Retry.",
    micOther: "The microphone cannot be opened: ", mediaFailed: "The media connection failed: check the network, or that the firewall lets the engine's UDP port through, then press Retry.",
    signalDown: "Connection to the server lost, reconnecting…", badLogin: "Unknown agent or wrong password.", tooMany: "Too many failed logins: wait and try again.",
    myOrders: "My work orders", overdue: "overdue", open: "open", closed: "closed", replied: "replied", reopened: "reopened",
    afterCall: "After-call form", category: "Category", district: "District", address: "Address", summary: "Summary", direct: "Answered directly",
    dispatched: "Dispatch to", createTicket: "Create work order", skip: "Skip", ticketMade: "Work order created",
    consultation: "consultation", help: "help request", suggestion: "suggestion", praise: "praise", complaint: "complaint", report: "report",
    supervisor: "Supervisor", listen: "listening", whisper: "whispering", barge: "barged in", leave: "left",
    consult: "Consult", consulting: "Consulting", complete: "Complete transfer", cancelConsult: "Cancel consult",
    started: "ringing", connected: "connected",
    recPause: "Pause recording", recResume: "Resume recording", recPaused: "Recording paused",
    rtt: "round trip", seconds: "s", restoring: "Media connection lost, restoring…", restored: "Media connection restored",
    moving: "This site is not available: moving to", moved: "Moved to site", moveLogin: "Please log in again at this site.",
  },
};

const $ = (id) => document.getElementById(id);
let lang = localStorage.getItem("hotline.lang") || (navigator.language || "zh").slice(0, 2);
if (!T[lang]) lang = "zh";
const t = (k) => (T[lang] && T[lang][k]) || k;

// Everything the page knows; window.hotline exposes it to tests and to curious agents.
const S = {
  agent: "", token: "", pc: null, mic: null, ws: null, lastSeq: 0, state: "logged-out", reason: "", since: null,
  offer: null, call: null, callStart: 0, held: false, muted: false, recPaused: false, consult: null, media: "none", signal: "down",
  checks: { mic: null, media: null, signal: null }, rtt: null, heardHz: 0, level: 0, errors: [], events: [],
  wsReconnects: 0, iceRestarts: 0, answerClick: 0, firstAudioMs: null, sites: [], moving: false, movedFrom: "",
};
window.hotline = S;

function translate() {
  document.documentElement.lang = lang;
  document.querySelectorAll("[data-t]").forEach((el) => { el.textContent = t(el.dataset.t); });
  $("lang").value = lang;
  renderState();
  renderCall();
}

function logEvent(text) {
  const li = document.createElement("li");
  li.textContent = new Date().toLocaleTimeString() + "  " + text;
  $("events").prepend(li);
  while ($("events").children.length > 50) $("events").lastChild.remove();
  S.events.push(text);
  if (S.events.length > 200) S.events.shift();
}

function showError(el, text) {
  $(el).textContent = text || "";
  if (text) S.errors.push(text);
}

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: Object.assign({ "Content-Type": "application/json" }, S.token ? { Authorization: "Bearer " + S.token } : {}),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try { data = await res.json(); } catch (_) { /* empty body */ }
  if (!res.ok) {
    const err = new Error((data && data.message) || res.statusText);
    err.status = res.status;
    err.code = data && data.code;
    throw err;
  }
  return data;
}

// ---- login -------------------------------------------------------------------

$("loginForm").addEventListener("submit", async (e) => {
  e.preventDefault();
  showError("loginError", "");
  try {
    const s = await api("POST", "/api/v1/login", { agent: $("agentId").value.trim(), password: $("password").value });
    S.agent = s.agent;
    S.token = s.token;
  } catch (err) {
    showError("loginError", err.status === 401 ? t("badLogin") : err.status === 429 ? t("tooMany") : err.message);
    return;
  }
  $("password").value = "";
  await enterDesk();
});

// enterDesk shows the desk of the logged-in agent and connects everything.
async function enterDesk() {
  $("login").hidden = true;
  $("desk").hidden = false;
  $("who").hidden = false;
  $("who").textContent = S.agent;
  connectSignal();
  loadOrders();
  await preCheck();
  loadQueues();
  if (!S.siteTimer) S.siteTimer = setInterval(() => { if (S.token && S.sites.length) findActiveSite(); }, 3000);
}

// ---- hot standby: the page knows every site of the pair ------------------------
// When its own site is lost (the WebSocket does not come back) or turns standby
// (a planned switchover), the page moves to the site whose /readyz says 200, with
// the same session (the pair shares sessions) and the state the agent was in.

async function siteReady(base) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), 2000);
  try {
    const res = await fetch(base + "/readyz", { signal: ctl.signal, cache: "no-store" });
    return res.status === 200;
  } catch (_) {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

async function findActiveSite() {
  if (S.moving || !S.token) return;
  S.moving = true;
  try {
    if (await siteReady(location.origin)) return; // still (or again) the active site
    for (const site of S.sites) {
      const base = site.replace(/\/+$/, "");
      if (base === location.origin) continue;
      if (await siteReady(base)) { moveTo(base); return; }
    }
  } finally {
    S.moving = false;
  }
}

function moveTo(base) {
  logEvent(t("moving") + " " + base);
  const resume = { agent: S.agent, token: S.token, state: S.state, reason: S.reason, lang, from: location.origin };
  S.token = ""; // this page is done here: no more reconnects
  if (S.ws) S.ws.close();
  if (S.pc) S.pc.close();
  location.href = base + "/agent#resume=" + encodeURIComponent(btoa(JSON.stringify(resume)));
}

// resumeMoved picks up an agent that the page of the other site sent here.
async function resumeMoved() {
  const m = /^#resume=(.+)$/.exec(location.hash);
  if (!m) return;
  history.replaceState(null, "", location.pathname);
  let r;
  try { r = JSON.parse(atob(decodeURIComponent(m[1]))); } catch (_) { return; }
  if (!r || !r.agent || !r.token) return;
  if (r.lang && T[r.lang]) { lang = r.lang; translate(); }
  S.agent = r.agent;
  S.token = r.token;
  S.movedFrom = r.from || "";
  try {
    await api("GET", "/api/v1/me");
  } catch (_) {
    S.token = "";
    showError("loginError", t("moveLogin"));
    $("agentId").value = r.agent;
    return;
  }
  logEvent(t("moved") + " " + location.host);
  await enterDesk();
  // Back to work as before the move: a call that was cut off is over, so an
  // agent who was working is ready; a pause stays a pause.
  if (!S.checks.media) return;
  if (r.state === "not-ready") await setState("not-ready", r.reason || "");
  else if (r.state && r.state !== "logged-out") await setState("ready");
}

async function loadQueues() {
  try {
    const q = await api("GET", "/api/v1/queues");
    const dl = $("queues");
    dl.textContent = "";
    for (const x of q.queues || []) {
      const o = document.createElement("option");
      o.value = x.name;
      dl.appendChild(o);
    }
  } catch (_) { /* transfer still takes a typed name */ }
}

// ---- pre-call check: microphone, media connection, round trip -----------------

function setCheck(id, cls, detail) {
  const li = $(id);
  li.className = cls;
  li.querySelector(".detail").textContent = detail || "";
}

async function preCheck() {
  showError("checkHelp", "");
  $("retryChecks").hidden = true;
  setCheck("chkMic", "wait", "…");
  setCheck("chkMedia", "wait", "…");
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    return failCheck("chkMic", "mic", t("micOther") + "navigator.mediaDevices (HTTPS?)");
  }
  try {
    if (!S.mic) S.mic = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true }, video: false });
    const tr = S.mic.getAudioTracks()[0];
    S.checks.mic = true;
    setCheck("chkMic", "ok", tr ? tr.label : "");
  } catch (err) {
    const why = err.name === "NotFoundError" ? t("micMissing") : err.name === "NotAllowedError" ? t("micDenied") : t("micOther") + err.name + " " + err.message;
    return failCheck("chkMic", "mic", why);
  }
  try {
    await openMedia();
    S.checks.media = true;
  } catch (err) {
    return failCheck("chkMedia", "media", t("mediaFailed") + " (" + err.message + ")");
  }
}

function failCheck(id, key, why) {
  S.checks[key] = false;
  setCheck(id, "bad", "");
  showError("checkHelp", why);
  $("retryChecks").hidden = false;
  logEvent(why);
}
$("retryChecks").addEventListener("click", preCheck);

// openMedia makes the agent's one PeerConnection and connects it; calls are
// switched into it by the engine, so answering costs no set-up.
async function openMedia() {
  if (S.pc) { S.pc.close(); S.pc = null; }
  const cfg = await api("GET", "/api/v1/webrtc");
  S.sites = cfg.sites || [];
  const pc = new RTCPeerConnection({ iceServers: cfg.ice_servers || [] });
  S.pc = pc;
  const track = S.mic.getAudioTracks()[0];
  const tx = pc.addTransceiver(track, { direction: "sendrecv", streams: [S.mic] });
  // G.711 only (no transcoding in the engine): PCMU, PCMA, telephone-event.
  if (tx.setCodecPreferences && RTCRtpReceiver.getCapabilities) {
    const caps = RTCRtpReceiver.getCapabilities("audio").codecs.filter((c) => /^audio\/(PCMU|PCMA|telephone-event)$/i.test(c.mimeType));
    if (caps.length) tx.setCodecPreferences(caps);
  }
  pc.ontrack = (ev) => {
    const stream = ev.streams[0] || new MediaStream([ev.track]);
    $("remote").srcObject = stream;
    listen(stream);
  };
  pc.onconnectionstatechange = () => onMediaState(pc);
  await negotiate(false);
  const deadline = Date.now() + 10000;
  while (pc.connectionState !== "connected") {
    if (pc.connectionState === "failed" || Date.now() > deadline) throw new Error("ICE/DTLS " + pc.connectionState);
    await sleep(50);
  }
  await measureRTT();
}

async function negotiate(restart) {
  const pc = S.pc;
  const offer = await pc.createOffer({ iceRestart: restart });
  await pc.setLocalDescription(offer);
  await waitGathering(pc, 3000);
  const ans = await api("POST", "/api/v1/agents/" + S.agent + "/media", { sdp: pc.localDescription.sdp, restart });
  await pc.setRemoteDescription({ type: "answer", sdp: ans.sdp });
}

function waitGathering(pc, ms) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { pc.removeEventListener("icegatheringstatechange", check); resolve(); };
    const check = () => { if (pc.iceGatheringState === "complete") done(); };
    pc.addEventListener("icegatheringstatechange", check);
    setTimeout(done, ms);
  });
}

async function measureRTT() {
  const stats = await S.pc.getStats();
  let rtt = null;
  stats.forEach((r) => {
    if (r.type === "candidate-pair" && r.nominated && r.currentRoundTripTime !== undefined) rtt = r.currentRoundTripTime;
  });
  S.rtt = rtt;
  setCheck("chkMedia", "ok", rtt === null ? "" : t("rtt") + " " + Math.round(rtt * 1000) + " ms");
}

// onMediaState restores a dropped connection with an ICE restart; the engine keeps
// the call for webrtc.restore_timeout meanwhile.
let restoring = false;
async function onMediaState(pc) {
  if (pc !== S.pc) return;
  S.media = pc.connectionState;
  if (pc.connectionState === "connected") {
    if (restoring) { restoring = false; logEvent(t("restored")); setCheck("chkMedia", "ok", ""); measureRTT(); }
    return;
  }
  if ((pc.connectionState === "disconnected" || pc.connectionState === "failed") && !restoring) {
    restoring = true;
    setCheck("chkMedia", "wait", t("restoring"));
    logEvent(t("restoring"));
    for (let i = 0; i < 10 && restoring && pc === S.pc; i++) {
      try {
        S.iceRestarts++;
        await negotiate(true);
        await sleep(1500);
        if (pc.connectionState === "connected") return;
      } catch (err) {
        logEvent("ICE restart: " + err.message);
        await sleep(1000);
      }
    }
    if (restoring) {
      restoring = false;
      setCheck("chkMedia", "bad", "");
      showError("checkHelp", t("mediaFailed"));
      $("retryChecks").hidden = false;
    }
  }
}

// listen analyses what the agent hears: its loudest frequency and level (the
// diagnostic line on the page; tests read window.hotline.heardHz).
let audioCtx = null;
function listen(stream) {
  try {
    audioCtx = audioCtx || new AudioContext();
    const src = audioCtx.createMediaStreamSource(stream);
    const an = audioCtx.createAnalyser();
    an.fftSize = 8192;
    src.connect(an);
    const bins = new Float32Array(an.frequencyBinCount);
    const wave = new Float32Array(an.fftSize);
    setInterval(() => {
      an.getFloatFrequencyData(bins);
      an.getFloatTimeDomainData(wave);
      let peak = 0;
      for (let i = 1; i < bins.length; i++) if (bins[i] > bins[peak]) peak = i;
      let sum = 0;
      for (const v of wave) sum += v * v;
      S.level = Math.sqrt(sum / wave.length);
      S.heardHz = S.level > 0.005 ? Math.round((peak * audioCtx.sampleRate) / an.fftSize) : 0;
      if (S.call && S.answerClick && S.firstAudioMs === null && S.level > 0.005) S.firstAudioMs = Date.now() - S.answerClick;
      $("hearing").textContent = S.heardHz ? S.heardHz + " Hz" : "—";
      $("level").value = Math.min(1, S.level * 4);
    }, 50);
  } catch (err) {
    logEvent("WebAudio: " + err.message);
  }
}

// ---- signalling: the agent WebSocket, resumed from the last seq ----------------

function connectSignal() {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  let url = proto + "//" + location.host + "/api/v1/agents/" + S.agent + "/ws?token=" + encodeURIComponent(S.token);
  if (S.lastSeq) url += "&since=" + S.lastSeq;
  const ws = new WebSocket(url);
  S.ws = ws;
  ws.onopen = () => { S.wsFailures = 0; S.signal = "up"; S.checks.signal = true; setCheck("chkSignal", "ok", ""); };
  ws.onmessage = (ev) => {
    let m;
    try { m = JSON.parse(ev.data); } catch (_) { return; }
    if (m.seq) S.lastSeq = m.seq;
    onMessage(m);
  };
  ws.onclose = () => {
    if (ws !== S.ws || !S.token) return;
    S.signal = "down";
    setCheck("chkSignal", "wait", t("signalDown"));
    S.wsReconnects++;
    S.wsFailures = (S.wsFailures || 0) + 1;
    if (S.wsFailures >= 2 && S.sites.length) findActiveSite();
    setTimeout(connectSignal, Math.min(5000, 300 * S.wsReconnects));
  };
}

function onMessage(m) {
  switch (m.type) {
    case "resync":
    case "state":
      S.state = m.state || S.state;
      S.reason = m.reason || "";
      S.since = m.since ? new Date(m.since) : m.time ? new Date(m.time) : new Date();
      if (S.state !== "reserved" && S.state !== "on-call" && S.offer && m.type === "resync") clearOffer();
      renderState();
      break;
    case "offer":
      S.offer = { call: m.call, queue: m.queue, caller: m.caller, at: Date.now() };
      showOffer();
      break;
    case "offer_withdrawn":
    case "offer_timed_out":
    case "offer_rejected":
      if (S.offer && S.offer.call === m.call) clearOffer();
      logEvent(m.type + (m.reason ? " (" + m.reason + ")" : ""));
      break;
    case "offer_accepted":
      break;
    case "call_connected":
      if (S.offer && S.offer.call === m.call) {
        S.call = Object.assign({}, S.offer);
        S.callStart = Date.now();
        clearOffer();
        renderCall();
      } else if (S.call && S.call.call !== m.call) {
        // A consult we answered was completed: it is the caller's call now.
        S.call.call = m.call;
        logEvent(t("onCall") + " " + (S.call.caller || ""));
      }
      break;
    case "supervisor":
      S.supervisor = m.reason === "leave" ? null : { who: m.target, mode: m.reason };
      logEvent(t("supervisor") + " " + m.target + ": " + t(m.reason));
      renderCall();
      break;
    case "consult":
      S.consult = ["started", "connected"].includes(m.reason) ? { state: m.reason, target: m.target || m.queue || "" } : null;
      logEvent(t("consult") + " " + (m.target || m.queue || "") + " " + m.reason + (m.cause ? " (" + m.cause + ")" : ""));
      renderCall();
      break;
    case "call_held": S.held = true; renderCall(); break;
    case "call_resumed": S.held = false; renderCall(); break;
    case "call_ended":
    case "call_transferred":
      if (S.offer && S.offer.call === m.call) clearOffer();
      if (S.call && S.call.call === m.call) endCall(m.type === "call_ended" ? (m.side || "") : "transferred");
      break;
    case "logout":
      logEvent("logout " + (m.reason || ""));
      break;
    case "error":
      logEvent("error: " + m.code + " " + m.message);
      break;
  }
}

// ---- state bar -----------------------------------------------------------------

function renderState() {
  $("state").textContent = t(S.state);
  $("stateReason").textContent = S.reason && S.state === "not-ready" ? "(" + (t("r" + S.reason[0].toUpperCase() + S.reason.slice(1)) || S.reason) + ")" : "";
}

async function setState(state, reason) {
  try {
    await api("POST", "/api/v1/agents/" + S.agent + "/state", reason ? { state, reason } : { state });
  } catch (err) {
    logEvent(state + ": " + err.message);
  }
}
$("readyBtn").addEventListener("click", () => setState("ready"));
$("notReadyBtn").addEventListener("click", () => setState("not-ready", $("reason").value));
$("logoutBtn").addEventListener("click", async () => {
  await setState("logged-out");
  try { await api("DELETE", "/api/v1/agents/" + S.agent + "/media"); } catch (_) { /* gone already */ }
  try { await api("POST", "/api/v1/logout"); } catch (_) { /* expired */ }
  S.token = "";
  if (S.ws) S.ws.close();
  if (S.pc) S.pc.close();
  location.reload();
});

// ---- ringing -------------------------------------------------------------------

let ring = null;
function startRing() {
  stopRing();
  try {
    audioCtx = audioCtx || new AudioContext();
    const g = audioCtx.createGain();
    g.gain.value = 0;
    g.connect(audioCtx.destination);
    const o1 = audioCtx.createOscillator(); o1.frequency.value = 440; o1.connect(g); o1.start();
    const o2 = audioCtx.createOscillator(); o2.frequency.value = 480; o2.connect(g); o2.start();
    let on = false;
    const iv = setInterval(() => { on = !on; g.gain.value = on ? 0.08 : 0; }, 1000);
    ring = { stop: () => { clearInterval(iv); o1.stop(); o2.stop(); g.disconnect(); } };
  } catch (_) { /* no audio output: the alert still shows */ }
}
function stopRing() { if (ring) { ring.stop(); ring = null; } }

async function showOffer() {
  const o = S.offer;
  $("incoming").hidden = false;
  $("inCaller").textContent = o.caller || "—";
  $("inQueue").textContent = o.queue || "—";
  $("inMenu").textContent = "…";
  $("inWaited").textContent = "…";
  startRing();
  $("answerBtn").focus();
  logEvent(t("incoming") + " " + (o.caller || "") + " " + (o.queue || ""));
  try {
    const c = await api("GET", "/api/v1/calls/" + encodeURIComponent(o.call));
    if (S.offer !== o) return;
    const inputs = c.inputs || [];
    $("inMenu").textContent = (c.path || []).join(" › ") + (c.digits ? "  [" + c.digits + "]" : "");
    const queued = inputs.length ? new Date(inputs[inputs.length - 1].time) : new Date(c.start);
    o.queuedAt = queued.getTime();
    tickWaited();
  } catch (_) { $("inMenu").textContent = "—"; }
}

function tickWaited() {
  if (S.offer && S.offer.queuedAt) $("inWaited").textContent = fmt((Date.now() - S.offer.queuedAt) / 1000);
}

function clearOffer() {
  S.offer = null;
  stopRing();
  $("incoming").hidden = true;
}

async function answer() {
  if (!S.offer) return;
  S.answerClick = Date.now();
  S.firstAudioMs = null;
  stopRing();
  try {
    await api("POST", "/api/v1/agents/" + S.agent + "/call", { op: "answer", call: S.offer.call });
  } catch (err) {
    logEvent(t("answer") + ": " + err.message);
    clearOffer();
  }
}
async function reject() {
  if (!S.offer) return;
  const call = S.offer.call;
  clearOffer();
  try { await api("POST", "/api/v1/agents/" + S.agent + "/call", { op: "reject", call }); } catch (err) { logEvent(t("reject") + ": " + err.message); }
}
$("answerBtn").addEventListener("click", answer);
$("rejectBtn").addEventListener("click", reject);

// ---- the call ------------------------------------------------------------------

function renderCall() {
  $("call").hidden = !S.call;
  if (!S.call) return;
  $("callCaller").textContent = S.call.caller || "—";
  $("callQueue").textContent = S.call.queue || "—";
  $("heldTag").hidden = !S.held;
  $("mutedTag").hidden = !S.muted;
  $("holdBtn").textContent = S.held ? t("resume") : t("hold");
  $("holdBtn").setAttribute("aria-pressed", String(S.held));
  $("muteBtn").textContent = S.muted ? t("unmute") : t("mute");
  $("recTag").hidden = !S.recPaused;
  $("supTag").hidden = !S.supervisor;
  if (S.supervisor) $("supTag").textContent = t("supervisor") + " " + S.supervisor.who + " " + t(S.supervisor.mode);
  $("consultBar").hidden = !S.consult;
  if (S.consult) {
    $("consultTarget").textContent = S.consult.target;
    $("consultState").textContent = t(S.consult.state);
    $("completeBtn").disabled = S.consult.state !== "connected";
  }
  $("recBtn").textContent = S.recPaused ? t("recResume") : t("recPause");
  $("recBtn").setAttribute("aria-pressed", String(S.recPaused));
  $("muteBtn").setAttribute("aria-pressed", String(S.muted));
}

function endCall(how) {
  logEvent(t("hangup") + " " + how);
  if (S.call) openForm(S.call);
  S.call = null;
  S.held = false;
  S.recPaused = false;
  S.consult = null;
  S.supervisor = null;
  setMute(false);
  renderCall();
}

async function op(body) {
  try {
    await api("POST", "/api/v1/agents/" + S.agent + "/call", body);
    return true;
  } catch (err) {
    logEvent(body.op + ": " + err.message);
    return false;
  }
}
$("hangupBtn").addEventListener("click", () => S.call && op({ op: "hangup" }));
$("holdBtn").addEventListener("click", () => S.call && op({ op: S.held ? "resume" : "hold" }));
$("muteBtn").addEventListener("click", () => S.call && setMute(!S.muted));
$("recBtn").addEventListener("click", async () => {
  if (!S.call) return;
  if (await op({ op: S.recPaused ? "resume_recording" : "pause_recording" })) {
    S.recPaused = !S.recPaused;
    renderCall();
  }
});
function setMute(on) {
  S.muted = on;
  if (S.mic) S.mic.getAudioTracks().forEach((tr) => { tr.enabled = !on; });
  renderCall();
}

// Keypad: RFC 4733 telephone-events to the caller, through the engine's bridge.
$("keypad").addEventListener("click", (e) => {
  if (e.target.tagName !== "BUTTON" || !S.pc) return;
  sendDTMF(e.target.textContent);
});
function sendDTMF(tones) {
  const s = S.pc.getSenders().find((x) => x.track && x.track.kind === "audio");
  if (s && s.dtmf && s.dtmf.canInsertDTMF) {
    s.dtmf.insertDTMF(tones, 120, 80);
    logEvent("DTMF " + tones);
    return true;
  }
  logEvent("DTMF: not ready");
  return false;
}
S.sendDTMF = sendDTMF;

$("transferForm").addEventListener("submit", async (e) => {
  e.preventDefault();
  if (!S.call) return;
  const kind = $("trKind").value;
  const target = $("trTarget").value.trim();
  if (!target) return;
  if (await op({ op: "transfer", [kind]: target })) $("trTarget").value = "";
});

$("consultBtn").addEventListener("click", async () => {
  if (!S.call) return;
  const kind = $("trKind").value;
  const target = $("trTarget").value.trim();
  if (!target) return;
  if (await op({ op: "consult", [kind]: target })) $("trTarget").value = "";
});
$("completeBtn").addEventListener("click", () => S.consult && op({ op: "consult_complete" }));
$("cancelBtn").addEventListener("click", () => S.consult && op({ op: "consult_cancel" }));

// ---- the after-call form: a work order for the call just ended ---------------

let dir = null;
async function openForm(c) {
  S.formCall = c.call;
  $("form").hidden = false;
  $("formCall").textContent = c.caller || "";
  $("ticketResult").textContent = "";
  if (!dir) {
    try { dir = await api("GET", "/api/v1/tickets/directory"); } catch (_) { dir = { categories: [], departments: [] }; }
    for (const k of dir.categories) $("fCategory").add(new Option(t(k), k));
    for (const d of dir.departments) $("fDepartment").add(new Option(d, d));
  }
  $("fSummary").focus();
}
$("ticketForm").addEventListener("submit", async (e) => {
  e.preventDefault();
  const disp = document.querySelector('input[name=disp]:checked').value;
  const body = { call: S.formCall, category: $("fCategory").value, district: $("fDistrict").value, address: $("fAddress").value,
    summary: $("fSummary").value, disposition: disp };
  if (disp === "dispatched") body.department = $("fDepartment").value;
  try {
    const wo = await api("POST", "/api/v1/tickets", body);
    S.lastTicket = wo;
    loadOrders();
    $("ticketResult").textContent = t("ticketMade") + ": " + wo.id;
    logEvent(t("ticketMade") + " " + wo.id);
    $("ticketForm").reset();
    setTimeout(() => { $("form").hidden = true; }, 1500);
  } catch (err) {
    $("ticketResult").textContent = err.message;
    S.errors.push("ticket: " + err.message);
  }
});
$("skipBtn").addEventListener("click", () => { $("form").hidden = true; });

// The agent's own work orders: status, deadline, overdue.
async function loadOrders() {
  let res;
  try { res = await api("GET", "/api/v1/tickets?limit=20"); } catch (_) { return; }
  S.orders = res.tickets;
  const tb = $("orderList").tBodies[0];
  tb.textContent = "";
  for (const w of res.tickets) {
    const tr = tb.insertRow();
    if (w.overdue && w.status !== "closed") tr.className = "overdue";
    for (const v of [w.id, t(w.category), t(w.status) + (w.department ? " · " + w.department : ""),
      w.deadline ? new Date(w.deadline).toLocaleDateString() : "", w.overdue ? t("overdue") : "", (w.summary || "").slice(0, 40)]) {
      tr.insertCell().textContent = v;
    }
  }
}
setInterval(() => { if (S.token) loadOrders(); }, 30000);

// ---- keyboard ------------------------------------------------------------------

document.addEventListener("keydown", (e) => {
  if (!e.altKey) return;
  const k = e.key.toLowerCase();
  const actions = { a: answer, r: reject, h: () => S.call && op({ op: "hangup" }), o: () => $("holdBtn").click(), m: () => $("muteBtn").click(), p: () => $("recBtn").click(), t: () => $("trTarget").focus() };
  if (actions[k]) { e.preventDefault(); actions[k](); }
});

$("lang").addEventListener("change", () => { lang = $("lang").value; localStorage.setItem("hotline.lang", lang); translate(); });

// ---- timers --------------------------------------------------------------------

function fmt(s) {
  s = Math.max(0, Math.floor(s));
  const m = Math.floor(s / 60);
  return String(m).padStart(2, "0") + ":" + String(s % 60).padStart(2, "0");
}
setInterval(() => {
  if (S.call) $("callTimer").textContent = fmt((Date.now() - S.callStart) / 1000);
  if (S.since && (S.state === "wrap-up" || S.state === "not-ready" || S.state === "ready")) $("stateTimer").textContent = fmt((Date.now() - S.since.getTime()) / 1000);
  else $("stateTimer").textContent = "";
  tickWaited();
}, 500);

function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

translate();
resumeMoved();
