// A small line plot on a canvas: no library, nothing fetched from the network.
// plot(canvas, series, {xmin, xmax, ymin, ymax, y2max, hlines}); each series is
// {points: [[x, y], ...], color, right (use the right scale), dots}.
const PLOT_COLORS = ['#4fc3f7', '#ffb74d', '#81c784'];

function plot(canvas, series, options) {
  const ctx = canvas.getContext('2d');
  const w = canvas.width, h = canvas.height, pad = 28;
  ctx.clearRect(0, 0, w, h);
  const xs = series.flatMap(s => s.points.map(p => p[0]));
  const xmin = options.xmin ?? Math.min(...xs), xmax = options.xmax ?? Math.max(...xs);
  const scale = (lo, hi) => v => h - pad - (v - lo) / ((hi - lo) || 1) * (h - 2 * pad);
  const left = scale(options.ymin ?? 0, options.ymax ?? 1);
  const right = scale(0, options.y2max ?? 1);
  const x = v => pad + (v - xmin) / ((xmax - xmin) || 1) * (w - 2 * pad);
  ctx.strokeStyle = '#333a44'; ctx.fillStyle = '#889'; ctx.font = '10px sans-serif';
  ctx.strokeRect(pad, pad, w - 2 * pad, h - 2 * pad);
  const label = v => String(Number(v.toPrecision(3)));
  ctx.fillText(label(options.ymax ?? 1), 2, pad + 4); ctx.fillText(label(options.ymin ?? 0), 2, h - pad);
  if (options.y2max !== undefined) ctx.fillText(label(options.y2max), w - pad + 2, pad + 4);
  for (const line of options.hlines || []) {
    ctx.strokeStyle = line.color; ctx.setLineDash([4, 3]); ctx.beginPath();
    ctx.moveTo(pad, left(line.y)); ctx.lineTo(w - pad, left(line.y)); ctx.stroke();
    ctx.setLineDash([]);
  }
  let drawn = 0;
  for (const s of series) {
    const y = s.right ? right : left;
    ctx.strokeStyle = ctx.fillStyle = s.color;
    ctx.beginPath();
    s.points.forEach((p, i) => {
      if (p[1] === null || p[1] === undefined) return;
      if (s.dots) { ctx.fillRect(x(p[0]) - 1.5, y(p[1]) - 1.5, 3, 3); return; }
      i ? ctx.lineTo(x(p[0]), y(p[1])) : ctx.moveTo(x(p[0]), y(p[1]));
    });
    ctx.stroke();
    drawn += s.points.length;
  }
  canvas.dataset.points = drawn;   // what tests and scripts read
}
