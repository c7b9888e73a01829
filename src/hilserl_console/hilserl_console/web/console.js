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
  $('window').textContent = info.moving_average_episodes;
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
  // Its age on arrival on the clock its stamp was taken on (sim time in a slowed simulation),
  // plus the wall time from arrival to display.
  const latency = header.age_ms + Math.max(0, Date.now() - header.received * 1000);
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
  $('episode').textContent = a.episode === undefined ? '-' : String(episodeNumber(a));
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

// The actor numbers episodes across modes (the demonstrations first); the page counts each
// mode's own from 1, as the report counts training episodes.
const MODE_NAMES = { record: 'demo', train: 'train', eval: 'eval' };
const modeName = mode => MODE_NAMES[mode] || mode;
const pct = v => (v === null || v === undefined) ? '-' : `${(100 * v).toFixed(0)}%`;

function episodeNumber(a) {
  const done = data.episodes.find(r => r.episode === a.episode && r.mode === a.mode);
  return done ? done.number : data.episodes.filter(r => r.mode === a.mode).length + 1;
}

function showEpisodes(e) {
  const body = $('episodes').querySelector('tbody');
  for (const row of e.new) {
    data.episodes.push(row);
    const tr = document.createElement('tr');
    tr.dataset.episode = row.episode;
    tr.dataset.mode = row.mode;
    tr.dataset.number = row.number;
    tr.dataset.success = row.success;
    tr.innerHTML = [row.number, modeName(row.mode), row.success ? 'yes' : 'no', fmt(row.return, 1),
      row.length, pct(row.length ? row.intervention_steps / row.length : null), `v${row.policy_version}`]
      .map(v => `<td>${v}</td>`).join('');
    body.insertBefore(tr, body.firstChild);
  }
  // one kind of episode: training, or the demonstrations while a recording has no training
  const kind = data.episodes.some(r => r.mode === 'train') ? 'train' : 'record';
  $('history-kind').textContent = kind === 'train' ? 'training episodes' : 'demonstrations';
  const shown = data.episodes.filter(r => r.mode === kind);
  const maxReturn = Math.max(1, ...shown.map(r => r.return_avg));
  const plotted = $('history-plot');
  plot(plotted, [
    { points: shown.map(r => [r.number, r.success_avg]), color: PLOT_COLORS[0] },
    { points: shown.map(r => [r.number, r.intervention_share_avg]), color: PLOT_COLORS[1] },
    { points: shown.map(r => [r.number, r.return_avg]), color: PLOT_COLORS[2], right: true },
    { points: shown.map(r => [r.number, r.success ? 1 : 0]), color: '#4fc3f755', dots: true }],
    { ymin: 0, ymax: 1, y2max: maxReturn });
  plotted.dataset.episodes = shown.length;
  plotted.dataset.first = shown.length ? shown[0].number : '';
  const demos = data.episodes.filter(r => r.mode === 'record');
  $('demos').textContent = demos.length && kind === 'train' ?
    `${demos.length} demonstrations (${demos.filter(r => r.success).length} successful), apart from training` : '';
  $('eval-rounds').textContent = e.eval_rounds.length ? 'evaluation rounds: ' + e.eval_rounds.map(
    r => `${pct(r.success_rate)} of ${r.episodes} (95% interval ` +
      `${(100 * r.success_interval[0]).toFixed(0)}-${(100 * r.success_interval[1]).toFixed(0)}%, ` +
      `after ${r.after_train_episodes} training episodes, v${r.policy_version})`).join(', ') : '';
}

function showLearner(l) {
  const s = l.latest;
  // per env step over a window (kept through windows without steps); owed: never below 0
  const figures = [['critic updates/s', s.updates_per_s], ['updates per env step', l.updates_per_env_step],
    ['critic loss', s.critic_loss], ['actor loss', s.actor_loss], ['temperature', s.temperature],
    ['online buffer', s.online_buffer_size], ['demo buffer', s.demo_buffer_size],
    ['updates', s.optimization_step], ['updates owed', l.updates_owed], ['weights', s.weights_version]];
  // several arms feeding the learner: the transitions from each (this page's arm is one)
  const arms = Object.entries(s.env_steps_by_actor || {});
  if (arms.length > 1) figures.push(...arms.map(([arm, steps]) => [`transitions from ${arm}`, steps]));
  $('learner').innerHTML = figures.map(([name, v]) =>
    `<div class="figure"><span>${name}</span><b data-figure="${name}">${fmt(v, 3)}</b></div>`).join('');
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
