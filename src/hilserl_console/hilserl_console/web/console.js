// The console page: one WebSocket for the figures (JSON) and the camera frames (binary);
// buttons POST /command/<name>, with the token of this page's address (?token=...) when the
// console is served off localhost.
'use strict';
const token = new URLSearchParams(location.search).get('token') || '';
const $ = id => document.getElementById(id);
const data = { episodes: [], trace: [], given: [], learner: [] };
// Read by tests and benchmarks/console_latency.py: frames shown, stamp-to-display latency.
window.consoleMetrics = { frames: {}, latencyMs: [], updates: 0 };
window.consoleData = data;

// Text from the graph (diagnostics messages) is shown as text, never as markup.
const esc = text => String(text).replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`);

function fmt(v, digits = 2) {
  if (v === null || v === undefined) return '-';
  return typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(digits)) : String(v);
}

function connect() {
  const ws = new WebSocket(`ws://${location.host}/ws`);
  ws.binaryType = 'arraybuffer';
  ws.onopen = () => { $('connection').textContent = 'live'; $('connection').className = 'badge good'; };
  ws.onclose = () => {
    $('connection').textContent = 'disconnected: retrying'; $('connection').className = 'badge bad';
    setTimeout(connect, 1000);
  };
  ws.onmessage = event => {
    if (event.data instanceof ArrayBuffer) { showFrame(event.data); return; }
    const message = JSON.parse(event.data);
    if (message.type === 'hello') hello(message); else update(message.parts);
  };
}

function hello(info) {
  document.title = info.title; $('title').textContent = info.title;
  $('cameras').innerHTML = '';
  for (const camera of info.cameras) {
    const box = document.createElement('div');
    box.className = 'camera';
    box.innerHTML = `<canvas id="camera-${camera}" width="128" height="128"></canvas>` +
      `<div class="note">${camera} <span id="camera-${camera}-note">no frame yet</span></div>`;
    $('cameras').appendChild(box);
  }
  $('buttons').innerHTML = '';
  for (const command of info.commands) {
    const button = document.createElement('button');
    button.id = `command-${command.name}`;
    button.className = command.name;
    button.textContent = command.label;
    button.onclick = () => send(command.name);
    $('buttons').appendChild(button);
  }
  if (info.read_only) $('command-result').textContent = 'read-only console: only the stop is offered';
  data.episodes = [];
  $('episodes').querySelector('tbody').innerHTML = '';
}

async function send(name) {
  const headers = token ? { 'X-Console-Token': token } : {};
  try {
    const response = await fetch(`/command/${name}`, { method: 'POST', headers });
    const body = await response.json();
    $('command-result').textContent = `${name}: ${body.ok ? body.message : 'REFUSED: ' + (body.error || body.message)}`;
  } catch (error) {
    $('command-result').textContent = `${name}: no answer (${error})`;
  }
}

async function showFrame(buffer) {
  const length = new DataView(buffer).getUint32(0);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, length)));
  const bitmap = await createImageBitmap(new Blob([new Uint8Array(buffer, 4 + length)], { type: 'image/jpeg' }));
  const canvas = $(`camera-${header.camera}`);
  if (!canvas) return;
  canvas.getContext('2d').drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  const latency = Date.now() - header.stamp * 1000;
  const m = window.consoleMetrics;
  m.frames[header.camera] = (m.frames[header.camera] || 0) + 1;
  m.latencyMs.push(latency);
  if (m.latencyMs.length > 5000) m.latencyMs.shift();
  $(`camera-${header.camera}-note`).textContent = `#${header.seq}, ${latency.toFixed(0)} ms after its stamp`;
}

function update(parts) {
  window.consoleMetrics.updates += 1;
  if (parts.status) showStatus(parts.status);
  if (parts.episodes) showEpisodes(parts.episodes);
  if (parts.learner) showLearner(parts.learner);
  if (parts.diagnostics) showDiagnostics(parts.diagnostics);
}

function showStatus(s) {
  const a = s.actor;
  data.status = a;
  $('episode').textContent = fmt(a.episode);
  $('mode').textContent = fmt(a.mode);
  $('step').textContent = a.step === undefined ? '-' : `${a.step} / ${a.max_steps}`;
  $('time-left').textContent = a.time_left_s === undefined ? '-' : `${a.time_left_s.toFixed(1)} s`;
  $('policy-version').textContent = a.policy_version === undefined ? '-' : `v${a.policy_version}`;
  $('intervention').textContent = a.intervention === undefined ? '-' : (a.intervention ? 'OPERATOR' : 'policy');
  $('leader').textContent = s.leader_engaged === null ? '-' : (s.leader_engaged ? 'engaged' : 'free');
  $('waiting').textContent = a.paused ? 'PAUSED (after this episode)' : (a.waiting || (a.step !== undefined ? 'running' : '-'));
  $('probability').textContent = fmt(s.reward.probability, 3);
  $('threshold').textContent = fmt(s.reward.threshold, 3);
  $('reward-given').textContent = fmt(a.reward, 1);
  $('gate').textContent = a.gate === undefined ? '-' : (a.gate ? `closed: ${a.gate}` : 'open');
  data.trace = s.trace; data.given = s.given;
  const t0 = Math.min(...s.trace.map(p => p[0]), ...s.given.map(p => p[0]));
  const rel = points => points.map(p => [p[0] - t0, p[1]]);
  const canvas = $('reward-plot');
  plot(canvas, [{ points: rel(s.trace), color: PLOT_COLORS[0] },
                { points: rel(s.given), color: PLOT_COLORS[2], dots: true }],
       { ymin: 0, ymax: 1, hlines: s.reward.threshold === null ? [] : [{ y: s.reward.threshold, color: PLOT_COLORS[1] }] });
  canvas.dataset.trace = s.trace.length;
}

function showEpisodes(e) {
  const body = $('episodes').querySelector('tbody');
  for (const row of e.new) {
    data.episodes.push(row);
    const tr = document.createElement('tr');
    tr.dataset.episode = row.episode;
    tr.dataset.success = row.success;
    tr.innerHTML = [row.episode, row.mode, row.success ? 'yes' : 'no', fmt(row.return, 1),
      row.length, `${(100 * row.intervention_rate).toFixed(0)}%`, `v${row.policy_version}`]
      .map(v => `<td>${v}</td>`).join('');
    body.insertBefore(tr, body.firstChild);
  }
  const train = data.episodes.filter(r => r.mode !== 'eval');
  const maxReturn = Math.max(1, ...train.map(r => r.return_avg));
  plot($('history-plot'), [
    { points: train.map(r => [r.episode, r.success_avg]), color: PLOT_COLORS[0] },
    { points: train.map(r => [r.episode, r.intervention_rate_avg]), color: PLOT_COLORS[1] },
    { points: train.map(r => [r.episode, r.return_avg]), color: PLOT_COLORS[2], right: true },
    { points: train.map(r => [r.episode, r.success ? 1 : 0]), color: '#4fc3f755', dots: true }],
    { ymin: 0, ymax: 1, y2max: maxReturn });
  $('eval-rounds').textContent = e.eval_rounds.length ? 'evaluation rounds: ' + e.eval_rounds.map(
    r => `${(100 * r.success_rate).toFixed(0)}% of ${r.episodes} (v${r.policy_version})`).join(', ') : '';
}

function showLearner(l) {
  const s = l.latest;
  const figures = [['critic updates/s', s.updates_per_s], ['updates per env step', s.effective_utd],
    ['critic loss', s.critic_loss], ['actor loss', s.actor_loss], ['temperature', s.temperature],
    ['online buffer', s.online_buffer_size], ['demo buffer', s.demo_buffer_size],
    ['updates', s.optimization_step], ['updates owed', s.updates_owed], ['weights', s.weights_version]];
  $('learner').innerHTML = figures.map(([name, v]) =>
    `<div class="figure"><span>${name}</span><b>${fmt(v, 3)}</b></div>`).join('');
  const t0 = l.history.length ? l.history[0][0] : 0;
  const losses = l.history.flatMap(p => [p[1], p[2]]).filter(v => v !== null);
  plot($('learner-plot'), [
    { points: l.history.map(p => [p[0] - t0, p[1]]), color: PLOT_COLORS[0] },
    { points: l.history.map(p => [p[0] - t0, p[2]]), color: PLOT_COLORS[1] },
    { points: l.history.map(p => [p[0] - t0, p[4]]), color: PLOT_COLORS[2], right: true }],
    { ymin: Math.min(0, ...losses), ymax: Math.max(1, ...losses),
      y2max: Math.max(1, ...l.history.map(p => p[4] || 0)) });
}

function showDiagnostics(d) {
  $('diagnostics-current').innerHTML = d.current.length ? d.current.map(s =>
    `<div class="level-${esc(s.level)}">${esc(s.level.toUpperCase())} ${esc(s.name)}: ${esc(s.message)}</div>`).join('')
    : '<div class="note">no warnings or errors</div>';
  $('diagnostics-log').innerHTML = d.log.slice().reverse().map(s =>
    `<li class="level-${esc(s.level)}">${new Date(s.time * 1000).toLocaleTimeString()} ${esc(s.level)} ${esc(s.name)}: ${esc(s.message)}</li>`).join('');
}

connect();
