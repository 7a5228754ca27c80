// The page of `tsbpf observe serve --ui`: one EventSource per filter; the server filters,
// replays and aggregates, this draws. Every text from a flow goes in as textContent.

const SVG = 'http://www.w3.org/2000/svg';
const $ = (id) => document.getElementById(id);
const state = { source: undefined, maxRows: 500, rows: 0 };

function setStatus(text, kind) {
  const s = $('status');
  s.textContent = text;
  s.dataset.state = kind;
}

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

function svg(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/** "14:25:08.123" in the browser's time zone. */
function clock(rfc3339) {
  const d = new Date(rfc3339);
  const two = (n) => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

function rowElement(r) {
  const tr = el('tr', r.verdict === 'DROPPED' ? 'dropped' : 'forwarded');
  tr.dataset.id = String(r.id);
  tr.dataset.protocol = r.protocol;
  tr.dataset.verdict = r.verdict;
  const time = el('td', 'time', clock(r.time));
  time.title = r.time;
  const arrow = el('td', 'arrow', r.reply === true ? '\u21a9' : '\u2192');
  arrow.title = r.reply === true ? 'reply' : r.reply === false ? 'request' : 'unknown direction of the connection';
  const verdict = el('td', 'verdict', r.dropReason ? `${r.verdict}: ${r.dropReason}` : r.verdict);
  const iface = el('td', 'iface', r.interface ? `${r.interface}${r.direction ? ` (${r.direction})` : ''}` : '');
  const who = [r.sourceWho, r.destinationWho ? `\u2192 ${r.destinationWho}` : ''].filter(Boolean).join(' ');
  tr.append(time, el('td', 'source', r.source), arrow, el('td', 'destination', r.destination), el('td', 'protocol', r.protocol), el('td', 'summary', r.summary), verdict, iface, el('td', 'who', who));
  return tr;
}

function addRows(rows) {
  const body = $('flows').tBodies[0];
  const fragment = document.createDocumentFragment();
  // Newest first.
  for (let i = rows.length - 1; i >= 0; i--) fragment.append(rowElement(rows[i]));
  body.prepend(fragment);
  while (body.rows.length > state.maxRows) body.deleteRow(-1);
  state.rows = body.rows.length;
  $('rows-note').textContent = `the newest ${state.rows} (at most ${state.maxRows})`;
}

function clearView() {
  $('flows').tBodies[0].replaceChildren();
  $('drops').tBodies[0].replaceChildren();
  $('no-drops').hidden = false;
  $('map').replaceChildren();
  positions.clear();
  $('counts').textContent = '';
  $('rows-note').textContent = '';
  state.rows = 0;
}

function renderDrops(reasons) {
  const body = $('drops').tBodies[0];
  body.replaceChildren(
    ...reasons.map((d) => {
      const tr = el('tr');
      tr.dataset.reason = d.reason;
      tr.title = `show only ${d.reason} drops`;
      tr.append(el('td', '', d.reason), el('td', 'num', String(d.count)));
      tr.addEventListener('click', () => applyFilter(`--drop-reason-desc ${d.reason}`));
      return tr;
    }),
  );
  $('no-drops').hidden = reasons.length > 0;
}

/** Where each node was drawn: a new snapshot starts from there, so the picture stays put. */
const positions = new Map();

/** A number from a string (FNV-1a), to place a new node the same way each time. */
function hash(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/**
 * Force-directed placement (Fruchterman and Reingold): nodes push each other away, edges pull
 * their ends together, a weak pull keeps everything near the middle. Known nodes start where
 * they were and move little; new ones start on an ellipse at an angle of their own.
 */
function layout(nodes, edges, width, height) {
  const margin = { x: 100, top: 30, bottom: 45 };
  const cx = width / 2;
  const cy = height / 2;
  let fresh = 0;
  const pts = nodes.map((node) => {
    const old = positions.get(node.id);
    if (old) return { id: node.id, x: old.x, y: old.y };
    fresh++;
    const angle = (hash(node.id) / 2 ** 32) * 2 * Math.PI;
    return { id: node.id, x: cx + (cx - margin.x) * Math.cos(angle), y: cy + (cy - margin.bottom) * Math.sin(angle) };
  });
  const index = new Map(pts.map((p, i) => [p.id, i]));
  // One pull per pair of nodes, whichever way and however many edges join them.
  const pairs = new Map();
  for (const e of edges) {
    const [a, b] = [index.get(e.from), index.get(e.to)].sort((x, y) => x - y);
    if (a !== b) pairs.set(`${a} ${b}`, [a, b]);
  }
  const links = [...pairs.values()];
  const k = Math.min(220, 0.75 * Math.sqrt((width * height) / Math.max(pts.length, 1)));
  let temperature = fresh > 0 ? width / 6 : width / 60;
  for (let round = 0; round < 250; round++) {
    const dx = new Float64Array(pts.length);
    const dy = new Float64Array(pts.length);
    for (let i = 0; i < pts.length; i++) {
      for (let j = i + 1; j < pts.length; j++) {
        let x = pts[i].x - pts[j].x;
        let y = pts[i].y - pts[j].y;
        if (x === 0 && y === 0) {
          x = ((i - j) % 3) + 0.5;
          y = 0.5;
        }
        const d = Math.hypot(x, y);
        const f = (k * k) / d;
        dx[i] += (x / d) * f;
        dy[i] += (y / d) * f;
        dx[j] -= (x / d) * f;
        dy[j] -= (y / d) * f;
      }
    }
    for (const [a, b] of links) {
      const x = pts[a].x - pts[b].x;
      const y = pts[a].y - pts[b].y;
      const d = Math.hypot(x, y) || 1;
      const f = (d * d) / k;
      dx[a] -= (x / d) * f;
      dy[a] -= (y / d) * f;
      dx[b] += (x / d) * f;
      dy[b] += (y / d) * f;
    }
    for (let i = 0; i < pts.length; i++) {
      dx[i] += (cx - pts[i].x) * 0.15;
      dy[i] += (cy - pts[i].y) * 0.15;
      const d = Math.hypot(dx[i], dy[i]) || 1;
      const step = Math.min(d, temperature);
      pts[i].x = Math.min(width - margin.x, Math.max(margin.x, pts[i].x + (dx[i] / d) * step));
      pts[i].y = Math.min(height - margin.bottom, Math.max(margin.top, pts[i].y + (dy[i] / d) * step));
    }
    temperature *= 0.97;
  }
  positions.clear();
  for (const p of pts) positions.set(p.id, { x: p.x, y: p.y });
  return positions;
}

const RADIUS = 16;

function edgePath(a, b) {
  if (a === b) {
    // A node talking to itself (loopback): a loop above it.
    return { d: `M ${a.x - 8} ${a.y - RADIUS + 2} C ${a.x - 40} ${a.y - 70}, ${a.x + 40} ${a.y - 70}, ${a.x + 8} ${a.y - RADIUS + 2}`, mx: a.x, my: a.y - 62, anchor: 'middle' };
  }
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const len = Math.hypot(dx, dy) || 1;
  const ux = dx / len;
  const uy = dy / len;
  // Bent to its left, so that A->B and B->A do not overlap.
  const bend = Math.min(40, len / 5);
  const cx = (a.x + b.x) / 2 + uy * bend;
  const cy = (a.y + b.y) / 2 - ux * bend;
  const sx = a.x + ux * RADIUS;
  const sy = a.y + uy * RADIUS;
  const ex = b.x - ux * (RADIUS + 4);
  const ey = b.y - uy * (RADIUS + 4);
  // The label goes on the outer side of the bend: anchored at its start when that side is
  // to the right, at its end when to the left, so two edges between one pair keep apart.
  const anchor = uy > 0.3 ? 'start' : uy < -0.3 ? 'end' : 'middle';
  return { d: `M ${sx} ${sy} Q ${cx} ${cy} ${ex} ${ey}`, mx: (sx + 2 * cx + ex) / 4 + uy * 6, my: (sy + 2 * cy + ey) / 4 - ux * 6, anchor };
}

function renderMap(snapshot) {
  const map = $('map');
  const [, , width, height] = map.getAttribute('viewBox').split(' ').map(Number);
  const defs = svg('defs', {});
  for (const [id, color] of [['arrow', '#8a96a8'], ['arrow-drop', '#d93025']]) {
    const marker = svg('marker', { id, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' });
    marker.append(svg('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: color }));
    defs.append(marker);
  }
  const parts = [defs];
  if (snapshot.nodes.length === 0) parts.push(svg('text', { class: 'empty', x: width / 2, y: height / 2 }, 'no flows yet'));
  const at = layout(snapshot.nodes, snapshot.edges, width, height);
  // Edges with drops last, on top.
  for (const e of [...snapshot.edges].sort((a, b) => Number(a.drops > 0) - Number(b.drops > 0))) {
    const drop = e.drops > 0;
    const g = svg('g', { class: drop ? 'edge drop' : 'edge' });
    g.dataset.from = e.from;
    g.dataset.to = e.to;
    g.dataset.protocols = e.protocols.map((p) => p.name).join(' ');
    g.dataset.flows = String(e.flows);
    g.dataset.drops = String(e.drops);
    const p = edgePath(at.get(e.from), at.get(e.to));
    const shown = e.protocols.slice(0, 2).map((x) => x.name).join(', ') + (e.protocols.length > 2 ? ', \u2026' : '');
    const label = `${shown} \u00d7${e.flows}${drop ? ` (${e.drops} dropped)` : ''}`;
    g.append(
      svg('title', {}, `${e.from} \u2192 ${e.to}\n${e.protocols.map((x) => `${x.name}: ${x.count}`).join('\n')}${drop ? `\ndropped: ${e.drops}` : ''}`),
      svg('path', { d: p.d, 'marker-end': `url(#${drop ? 'arrow-drop' : 'arrow'})` }),
      svg('text', { class: 'elabel', x: p.mx, y: p.my + 4, 'text-anchor': p.anchor }, label),
    );
    parts.push(g);
  }
  for (const n of snapshot.nodes) {
    const { x, y } = at.get(n.id);
    const g = svg('g', { class: `node ${n.kind}`, transform: `translate(${x} ${y})` });
    g.dataset.id = n.id;
    const address = n.kind === 'address' ? n.label : n.kind === 'process' ? n.detail : '';
    if (address) g.dataset.address = address;
    g.append(svg('title', {}, `${n.id}\nclick: show only its flows`), svg('circle', { r: RADIUS }), svg('text', { class: 'nlabel', y: RADIUS + 13 }, n.label));
    if (n.detail) g.append(svg('text', { class: 'ndetail', y: RADIUS + 25 }, n.detail));
    g.addEventListener('click', () => applyFilter(n.kind === 'pod' ? `--pod ${n.detail}/${n.label}` : `--ip ${address}`));
    parts.push(g);
  }
  map.replaceChildren(...parts);
}

function renderStats(s) {
  renderMap(s);
  renderDrops(s.dropReasons);
  const bits = [`${s.flows} flows`, `${s.drops} dropped`];
  if (s.lost > 0) bits.push(`${s.lost} lost in the kernel or server`);
  if (s.skipped > 0) bits.push(`${s.skipped} not sent to this page (it read too slowly)`);
  if (s.evicted > 0) bits.push(`${s.evicted} map edges forgotten`);
  $('counts').textContent = bits.join(' \u00b7 ');
}

function connect(filter) {
  state.source?.close();
  clearView();
  $('filter-error').hidden = true;
  setStatus('connecting', 'connecting');
  const source = new EventSource(`events?filter=${encodeURIComponent(filter)}`);
  state.source = source;
  source.addEventListener('hello', (ev) => {
    const hello = JSON.parse(ev.data);
    state.maxRows = hello.maxRows;
    // A reconnect replays: start again from what the server holds.
    clearView();
    setStatus('live', 'live');
  });
  source.addEventListener('flows', (ev) => addRows(JSON.parse(ev.data)));
  source.addEventListener('stats', (ev) => renderStats(JSON.parse(ev.data)));
  source.addEventListener('filter-error', (ev) => {
    source.close();
    const e = JSON.parse(ev.data);
    $('filter-error').textContent = e.message;
    $('filter-error').hidden = false;
    setStatus('bad filter', 'error');
  });
  source.addEventListener('error', () => {
    if (source.readyState !== EventSource.CLOSED) setStatus('reconnecting', 'connecting');
  });
}

function applyFilter(text) {
  $('filter').value = text;
  const url = new URL(location.href);
  if (text.trim() === '') url.searchParams.delete('filter');
  else url.searchParams.set('filter', text);
  history.replaceState(null, '', url);
  connect(text);
}

document.addEventListener('DOMContentLoaded', () => {
  $('filter-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    applyFilter($('filter').value);
  });
  $('clear').addEventListener('click', () => applyFilter(''));
  applyFilter(new URL(location.href).searchParams.get('filter') ?? '');
});
