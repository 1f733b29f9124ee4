/**
 * The status page of `wsthreads serve`, one self-contained HTML document: uptime, memory and
 * totals; per worker thread (idle ones too) connections, messages and bytes per second in and out,
 * bytes queued, event-loop utilisation, heap, close codes and errors; a chart of the last minute
 * (in and out drawn differently, since an echo makes them equal); and a box that sends to the echo
 * or the chat, which reconnects when the server comes back. Its figures arrive once a second over
 * a WebSocket to STATS_PATH on the same server (see src/handlers/instrumented.ts). The
 * WebSocketServer serves the page itself, on its own port, through its httpRequestHandler
 * (`pageResponse`).
 *
 * The page's script is plain ES2020 in a string; it uses no template literals so that it can sit
 * inside this module's template literal without escaping.
 */
import { STATS_PATH } from '../handlers/serve-stats.ts';
import type { HttpResponse } from '../shared/connection/http-response.ts';

export interface ServePageConfig {
  /** What the server does with messages: shown on the page. */
  mode: 'echo' | 'chat' | 'handler';
  /** The most worker threads, and how many start at once (the rest as connections need them). */
  workers: number;
  minWorkers: number;
  subprotocols: string[];
}

const SCRIPT = String.raw`
(function () {
  'use strict';
  var config = JSON.parse(document.getElementById('config').textContent);
  var base = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host;
  var WINDOW_MS = 60000;
  var history = [];
  var previous = {};
  var $ = function (id) { return document.getElementById(id); };

  function fmt(n) { return Math.round(n).toLocaleString('en-US'); }
  function fmtBytes(n) {
    if (n < 1024) return n + ' B';
    if (n < 1048576) return (n / 1024).toFixed(1) + ' KiB';
    return (n / 1048576).toFixed(1) + ' MiB';
  }
  function cell(row, text) { var td = document.createElement('td'); td.textContent = text; row.appendChild(td); }

  function fmtDuration(ms) {
    var s = Math.floor(ms / 1000), h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60;
    return (h > 0 ? h + ' h ' : '') + (h > 0 || m > 0 ? m + ' min ' : '') + (s % 60) + ' s';
  }
  function fmtCodes(codes) {
    var keys = Object.keys(codes).sort();
    return keys.length === 0 ? '-' : keys.map(function (k) { return k + ' \u00d7 ' + fmt(codes[k]); }).join(', ');
  }
  function rate(w, before, seconds, key) { return seconds > 0 ? (w[key] - before[key]) / seconds : 0; }

  function update(snapshot) {
    var body = $('workers');
    body.textContent = '';
    var totals = { connections: 0, rateIn: 0, rateOut: 0, bytesIn: 0, bytesOut: 0, messagesIn: 0, messagesOut: 0, served: 0, errors: 0, idleTimeouts: 0, frameTimeouts: 0, codes: {} };
    snapshot.workers.forEach(function (w) {
      var before = previous[w.threadId];
      var seconds = before ? (w.at - before.at) / 1000 : 0;
      var r;
      if (before && w.at === before.at) r = before.rates;
      else {
        r = {
          rateIn: before ? rate(w, before, seconds, 'messagesIn') : 0,
          rateOut: before ? rate(w, before, seconds, 'messagesOut') : 0,
          bytesIn: before ? rate(w, before, seconds, 'bytesIn') : 0,
          bytesOut: before ? rate(w, before, seconds, 'bytesOut') : 0
        };
        previous[w.threadId] = { at: w.at, messagesIn: w.messagesIn, messagesOut: w.messagesOut, bytesIn: w.bytesIn, bytesOut: w.bytesOut, rates: r };
      }
      var row = document.createElement('tr');
      row.setAttribute('data-thread', String(w.threadId));
      cell(row, 'thread ' + w.threadId + (w.connectionsTotal === 0 ? ' (idle)' : ''));
      cell(row, fmt(w.connections));
      cell(row, fmt(r.rateIn));
      cell(row, fmt(r.rateOut));
      cell(row, fmtBytes(r.bytesIn) + '/s');
      cell(row, fmtBytes(r.bytesOut) + '/s');
      cell(row, fmtBytes(w.bytesQueued));
      cell(row, (w.eventLoopUtilization * 100).toFixed(1) + '%');
      cell(row, w.heapUsed === 0 ? '-' : fmtBytes(w.heapUsed));
      cell(row, fmtCodes(w.closeCodes));
      cell(row, fmt(w.errors));
      body.appendChild(row);
      totals.connections += w.connections;
      totals.rateIn += r.rateIn;
      totals.rateOut += r.rateOut;
      totals.bytesIn += r.bytesIn;
      totals.bytesOut += r.bytesOut;
      totals.messagesIn += w.messagesIn;
      totals.messagesOut += w.messagesOut;
      totals.served += w.connectionsTotal;
      totals.errors += w.errors;
      totals.idleTimeouts += w.idleTimeouts;
      totals.frameTimeouts += w.frameTimeouts;
      Object.keys(w.closeCodes).forEach(function (k) { totals.codes[k] = (totals.codes[k] || 0) + w.closeCodes[k]; });
    });
    $('total-connections').textContent = fmt(totals.connections);
    $('total-in').textContent = fmt(totals.rateIn);
    $('total-out').textContent = fmt(totals.rateOut);
    $('total-bytes-in').textContent = fmtBytes(totals.bytesIn) + '/s';
    $('total-bytes-out').textContent = fmtBytes(totals.bytesOut) + '/s';
    $('uptime').textContent = fmtDuration(snapshot.at - snapshot.startedAt);
    $('memory').textContent = snapshot.rss === 0 ? '-' : fmtBytes(snapshot.rss);
    $('served').textContent = fmt(totals.served);
    $('messages-in').textContent = fmt(totals.messagesIn);
    $('messages-out').textContent = fmt(totals.messagesOut);
    $('close-codes').textContent = fmtCodes(totals.codes);
    $('errors').textContent = fmt(totals.errors);
    $('idle-timeouts').textContent = fmt(totals.idleTimeouts);
    $('frame-timeouts').textContent = fmt(totals.frameTimeouts);
    $('updated').textContent = new Date(snapshot.at).toLocaleTimeString();
    if (snapshot.pubsub) {
      $('pubsub-state').textContent = snapshot.pubsub.state;
      var topics = $('topics');
      topics.textContent = '';
      snapshot.pubsub.topics.forEach(function (entry) {
        var row = document.createElement('tr');
        cell(row, entry[0]);
        cell(row, fmt(entry[1]));
        topics.appendChild(row);
      });
    }
    history.push({ at: snapshot.at, rateIn: totals.rateIn, rateOut: totals.rateOut });
    while (history.length > 0 && history[0].at < snapshot.at - WINDOW_MS) history.shift();
    draw(snapshot.at);
  }

  function draw(now) {
    var W = 600, H = 160, left = 50, top = 10, plotW = W - left - 10, plotH = H - top - 25;
    var max = 1;
    history.forEach(function (p) { max = Math.max(max, p.rateIn, p.rateOut); });
    var x = function (at) { return left + plotW * (1 - (now - at) / WINDOW_MS); };
    var y = function (v) { return top + plotH - plotH * v / max; };
    var line = function (key) {
      return history.map(function (p, i) { return (i === 0 ? 'M' : 'L') + x(p.at).toFixed(1) + ',' + y(p[key]).toFixed(1); }).join(' ');
    };
    $('line-in').setAttribute('d', line('rateIn'));
    $('line-out').setAttribute('d', line('rateOut'));
    $('y-max').textContent = fmt(max) + ' msgs/s';
  }

  function connectStats() {
    var socket = new WebSocket(base + config.statsPath);
    socket.onopen = function () { $('stats-status').textContent = 'live'; };
    socket.onmessage = function (event) { update(JSON.parse(event.data)); };
    socket.onclose = function () {
      $('stats-status').textContent = 'disconnected';
      setTimeout(connectStats, 2000);
    };
  }

  var chat = null;
  function log(direction, text) {
    var item = document.createElement('li');
    item.className = direction;
    item.textContent = (direction === 'sent' ? '\u2192 ' : '\u2190 ') + text;
    var list = $('log');
    list.insertBefore(item, list.firstChild);
    while (list.childNodes.length > 50) list.removeChild(list.lastChild);
  }
  function connectChat() {
    chat = config.subprotocols.length > 0 ? new WebSocket(base + '/', config.subprotocols) : new WebSocket(base + '/');
    chat.onopen = function () { $('conn-status').textContent = 'open'; $('send').disabled = false; };
    chat.onmessage = function (event) { log('received', typeof event.data === 'string' ? event.data : '[binary]'); };
    chat.onclose = function (event) {
      $('conn-status').textContent = 'closed (' + event.code + '), reconnecting';
      $('send').disabled = true;
      // The server may be restarting: try again, as the figures do.
      setTimeout(connectChat, 2000);
    };
  }
  $('form').addEventListener('submit', function (event) {
    event.preventDefault();
    var text = $('message').value;
    if (chat && chat.readyState === WebSocket.OPEN && text !== '') {
      chat.send(text);
      log('sent', text);
      $('message').value = '';
    }
  });

  connectStats();
  connectChat();
})();
`;

/** The page server: GET/HEAD of / (or /index.html) is the page; anything else 404 or 405. */
export function pageResponse(method: string, path: string, page: string): HttpResponse {
  if (method !== 'GET' && method !== 'HEAD') {
    return { status: 405, headers: { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' }, body: 'Method Not Allowed\n' };
  }
  if (path !== '/' && path !== '/index.html') {
    return { status: 404, headers: { 'Content-Type': 'text/plain; charset=utf-8' }, body: 'Not Found\n' };
  }
  return {
    status: 200,
    headers: { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' },
    body: page,
  };
}

/** How many worker threads, and when they start. */
function threadsText({ workers, minWorkers }: ServePageConfig): string {
  const threads = `${workers} worker thread${workers === 1 ? '' : 's'}`;
  if (minWorkers >= workers) return threads;
  return `up to ${threads}: ${minWorkers} started at once, the others as connections need them`;
}

export function renderServePage(config: ServePageConfig): string {
  const data = JSON.stringify({ ...config, statsPath: STATS_PATH }).replace(/</g, '\\u003c');
  // One of three literals, so it goes into the page as it is; the config travels as escaped JSON.
  const what = config.mode === 'chat' ? 'chat: every message goes to every connection' : config.mode === 'echo' ? 'echo: every message comes back' : 'custom handler';
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>wsthreads serve</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; max-width: 1100px; }
table { border-collapse: collapse; margin: 8px 0 16px; }
th, td { padding: 3px 12px; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child { text-align: left; }
tfoot td { font-weight: 600; }
#chart { border: 1px solid #ddd; }
#log { list-style: none; padding: 0; font-family: ui-monospace, monospace; max-height: 240px; overflow: auto; }
#log .sent { color: #555; }
input[type=text] { width: 420px; padding: 4px; }
</style>
</head>
<body>
<h1>wsthreads serve</h1>
<p>${what}; ${threadsText(config)}; figures <span id="stats-status">connecting</span>, updated <span id="updated">-</span></p>
<table>
<p>up <span id="uptime">-</span>; process memory <span id="memory">-</span>; <span id="served">0</span> connections served, <span id="messages-in">0</span> messages in, <span id="messages-out">0</span> out; closed with <span id="close-codes">-</span>; errors <span id="errors">0</span> (dropped for silence <span id="idle-timeouts">0</span>, stalled frames <span id="frame-timeouts">0</span>)</p>
<table>
<thead><tr><th>worker</th><th>connections</th><th>msgs/s in</th><th>msgs/s out</th><th>in</th><th>out</th><th>queued</th><th>event loop</th><th>heap</th><th>close codes</th><th>errors</th></tr></thead>
<tbody id="workers"></tbody>
<tfoot><tr><td>total</td><td id="total-connections">0</td><td id="total-in">0</td><td id="total-out">0</td><td id="total-bytes-in">0 B/s</td><td id="total-bytes-out">0 B/s</td><td></td><td></td><td></td><td></td><td></td></tr></tfoot>
</table>
<svg id="chart" width="600" height="160" viewBox="0 0 600 160" role="img" aria-label="messages per second, last minute">
<text x="4" y="20" font-size="11" id="y-max">1 msgs/s</text>
<text x="4" y="150" font-size="11">0</text>
<text x="50" y="158" font-size="11">-60 s</text>
<text x="560" y="158" font-size="11">now</text>
<path id="line-in" d="" fill="none" stroke="#1f77b4" stroke-width="4" stroke-opacity="0.6"></path>
<path id="line-out" d="" fill="none" stroke="#d62728" stroke-width="2" stroke-dasharray="6 4"></path>
</svg>
<p id="legend">messages per second over the last minute:
<svg width="28" height="10" aria-hidden="true"><line x1="0" y1="5" x2="28" y2="5" stroke="#1f77b4" stroke-width="4" stroke-opacity="0.6"></line></svg> in (wide, blue)
<svg width="28" height="10" aria-hidden="true"><line x1="0" y1="5" x2="28" y2="5" stroke="#d62728" stroke-width="2" stroke-dasharray="6 4"></line></svg> out (dashed, red)</p>
<h2>Topics</h2>
<p>Redis: <span id="pubsub-state">-</span></p>
<table>
<thead><tr><th>topic</th><th>subscribers</th></tr></thead>
<tbody id="topics"></tbody>
</table>
<h2>Send</h2>
<form id="form"><input type="text" id="message" autocomplete="off" placeholder="a message"> <button id="send" type="submit" disabled>Send</button> connection: <span id="conn-status">connecting</span></form>
<ul id="log"></ul>
<script type="application/json" id="config">${data}</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
