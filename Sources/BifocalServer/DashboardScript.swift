/// The dashboard's one script, served from the binary: it fetches a page's JSON
/// (`/ui/data/...`), draws the charts as SVG, shows values on hover and with the arrow keys,
/// and refreshes on the chosen interval. No library: a few hundred lines that Bifocal owns.
///
/// Browser tests read what it leaves in the DOM: every chart's `<svg data-points="N">` counts
/// the values drawn, and `<body data-errors="N">` counts script errors.
enum DashboardScript {
    static let js = #"""
(function () {
  'use strict';
  var errors = 0;
  function noteError(message) {
    errors += 1;
    document.body.dataset.errors = String(errors);
    var box = document.getElementById('script-error');
    if (box) { box.hidden = false; box.textContent = 'The page could not be drawn: ' + message; }
  }
  window.addEventListener('error', function (e) { noteError(e.message || 'script error'); });
  window.addEventListener('unhandledrejection', function (e) { noteError(String(e.reason)); });

  var SVGNS = 'http://www.w3.org/2000/svg';
  var PALETTE = ['#1f4fb8', '#c2410c', '#0f766e', '#9333ea', '#b91c1c', '#4d7c0f', '#a16207', '#be185d', '#334155', '#0369a1'];

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) { if (attrs[k] !== undefined && attrs[k] !== null) e.setAttribute(k, attrs[k]); }
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function svg(tag, attrs, text) {
    var e = document.createElementNS(SVGNS, tag);
    for (var k in attrs || {}) { e.setAttribute(k, attrs[k]); }
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function trim(x) { return String(+x.toPrecision(3)); }
  // Values with their unit, for ticks, tooltips and tables.
  function fmt(unit, v) {
    if (v === null || v === undefined || !isFinite(v)) return '–';
    var a = Math.abs(v);
    switch (unit) {
      case 'seconds':
        if (a === 0) return '0 s';
        if (a < 0.001) return trim(v * 1e6) + ' µs';
        if (a < 1) return trim(v * 1000) + ' ms';
        if (a < 120) return trim(v) + ' s';
        return trim(v / 60) + ' min';
      case 'ratio': return (a >= 0.1 || a === 0 ? (v * 100).toFixed(0) : trim(v * 100)) + '%';
      case 'per_second': return num(v) + '/s';
      case 'usd_per_hour': return '$' + num(v) + '/h';
      case 'usd': return '$' + num(v);
      case 'bytes': return bytes(v);
      default: return num(v);
    }
  }
  function num(v) {
    var a = Math.abs(v);
    if (a >= 1e9) return trim(v / 1e9) + 'G';
    if (a >= 1e6) return trim(v / 1e6) + 'M';
    if (a >= 1e4) return trim(v / 1e3) + 'k';
    if (a >= 100) return String(Math.round(v));
    if (a === 0) return '0';
    return trim(v);
  }
  function bytes(v) {
    var u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'], i = 0;
    while (Math.abs(v) >= 1024 && i < u.length - 1) { v /= 1024; i++; }
    return trim(v) + ' ' + u[i];
  }
  var UNIT_WORDS = { seconds: 'seconds', ratio: 'percent', per_second: 'per second', count: 'count',
                     usd_per_hour: 'US$ per hour', usd: 'US$', tokens: 'tokens', bytes: 'bytes' };
  function pad(n) { return n < 10 ? '0' + n : String(n); }
  function timeLabel(t, span) {
    var d = new Date(t * 1000);
    var hm = pad(d.getUTCHours()) + ':' + pad(d.getUTCMinutes());
    if (span > 2 * 86400) return (d.getUTCMonth() + 1) + '/' + d.getUTCDate() + (span > 8 * 86400 ? '' : ' ' + hm);
    return hm;
  }
  function fullTime(t) {
    var d = new Date(t * 1000);
    return d.getUTCFullYear() + '-' + pad(d.getUTCMonth() + 1) + '-' + pad(d.getUTCDate()) + ' ' + pad(d.getUTCHours()) + ':' + pad(d.getUTCMinutes()) + ' UTC';
  }
  function niceMax(v) {
    if (!(v > 0)) return 1;
    var p = Math.pow(10, Math.floor(Math.log10(v))), m = v / p;
    // Tops that divide into four even ticks.
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 4 ? 4 : m <= 8 ? 8 : 10) * p;
  }

  // One chart: a figure with a title, an SVG (axes with units, threshold bands, lines),
  // a legend and a tooltip that follows the mouse or the arrow keys.
  function chart(panel, view) {
    var fig = el('figure', { 'class': 'panel', id: 'panel-' + panel.id });
    fig.appendChild(el('figcaption', {}, panel.title));
    var W = 400, H = 190, L = 56, R = 10, T = 8, B = 30;
    var series = panel.series || [];
    var count = 0, max = 0;
    series.forEach(function (s) { s.points.forEach(function (p) { if (p[1] !== null) { count++; if (p[1] > max) max = p[1]; } }); });
    var s = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', tabindex: '0', 'data-points': String(count), 'data-panel': panel.id,
                         'aria-label': panel.title + ': ' + (count ? series.length + ' series; focus and use the arrow keys to read values' : 'no data') });
    if (!count) {
      s.setAttribute('style', 'display:none');
      fig.appendChild(s);
      fig.appendChild(el('p', { 'class': 'empty' }, panel.empty));
      return fig;
    }
    var yMax = panel.ymax ? Math.max(panel.ymax, max) : niceMax(max * 1.1);
    var x0 = view.from, x1 = view.to, span = x1 - x0;
    function X(t) { return L + (t - x0) / span * (W - L - R); }
    function Y(v) { return T + (1 - v / yMax) * (H - T - B); }
    (panel.bands || []).forEach(function (b) {
      var top = Y(Math.min(b.to, yMax)), bottom = Y(Math.max(b.from, 0));
      if (bottom <= top) return;
      s.appendChild(svg('rect', { 'class': 'band-' + b.kind, x: L, y: top, width: W - L - R, height: bottom - top }));
      s.appendChild(svg('text', { 'class': 'band-label', x: W - R - 2, y: b.kind === 'low' ? bottom - 3 : top + 9, 'text-anchor': 'end' }, b.label));
    });
    var axis = svg('g', { 'class': 'axis' });
    for (var i = 0; i <= 4; i++) {
      var v = yMax * i / 4, y = Y(v);
      axis.appendChild(svg('line', { 'class': 'grid-line', x1: L, x2: W - R, y1: y, y2: y }));
      axis.appendChild(svg('text', { x: L - 4, y: y + 3, 'text-anchor': 'end' }, fmt(panel.unit, v)));
    }
    var ticks = 5;
    for (var k = 0; k <= ticks; k++) {
      var t = x0 + span * k / ticks, x = X(t);
      axis.appendChild(svg('line', { x1: x, x2: x, y1: H - B, y2: H - B + 3 }));
      axis.appendChild(svg('text', { x: x, y: H - B + 13, 'text-anchor': k === 0 ? 'start' : k === ticks ? 'end' : 'middle' }, timeLabel(t, span)));
    }
    axis.appendChild(svg('path', { d: 'M' + L + ' ' + T + 'V' + (H - B) + 'H' + (W - R) }));
    axis.appendChild(svg('text', { x: (L + W - R) / 2, y: H - 3, 'text-anchor': 'middle' }, 'time (UTC)'));
    axis.appendChild(svg('text', { x: 10, y: (T + H - B) / 2, 'text-anchor': 'middle', transform: 'rotate(-90 10 ' + (T + H - B) / 2 + ')' }, UNIT_WORDS[panel.unit] || panel.unit));
    s.appendChild(axis);
    var legend = el('ul', { 'class': 'legend' });
    series.forEach(function (ser, n) {
      var color = PALETTE[n % PALETTE.length];
      ser.color = color;
      var d = '', pen = false;
      ser.points.forEach(function (p, j) {
        if (p[1] === null) { pen = false; return; }
        var px = X(p[0] + view.step / 2), py = Y(Math.min(p[1], yMax));
        d += (pen ? 'L' : 'M') + px.toFixed(1) + ' ' + py.toFixed(1);
        var prev = ser.points[j - 1], next = ser.points[j + 1];
        if ((!prev || prev[1] === null) && (!next || next[1] === null)) d += 'h0.01';
        pen = true;
      });
      s.appendChild(svg('path', { 'class': 'series' + (ser.dashed ? ' dashed' : ''), d: d, stroke: color, 'stroke-linecap': 'round' }));
      var item = el('li');
      item.appendChild(el('span', { 'class': 'sw' + (ser.dashed ? ' dashed' : ''), style: 'border-color:' + color }));
      item.appendChild(document.createTextNode(ser.name));
      legend.appendChild(item);
    });
    var cursor = svg('line', { 'class': 'cursor', y1: T, y2: H - B, visibility: 'hidden' });
    s.appendChild(cursor);
    var overlay = svg('rect', { x: L, y: T, width: W - L - R, height: H - T - B, fill: 'transparent' });
    s.appendChild(overlay);
    fig.appendChild(s);
    fig.appendChild(legend);
    var tip = el('div', { 'class': 'tip', hidden: '' , role: 'status' });
    fig.appendChild(tip);
    var times = series[0].points.map(function (p) { return p[0]; });
    var index = -1;
    function show(j) {
      if (j < 0 || j >= times.length) return;
      index = j;
      var t = times[j], x = X(t + view.step / 2);
      cursor.setAttribute('x1', x); cursor.setAttribute('x2', x); cursor.setAttribute('visibility', 'visible');
      tip.textContent = '';
      tip.appendChild(el('div', {}, fullTime(t)));
      var rows = series.map(function (ser) { return { ser: ser, v: ser.points[j] ? ser.points[j][1] : null }; });
      rows.sort(function (a, b) { return (b.v === null ? -Infinity : b.v) - (a.v === null ? -Infinity : a.v); });
      rows.slice(0, 12).forEach(function (r) {
        var line = el('div');
        line.appendChild(el('span', { 'class': 'sw', style: 'background:' + r.ser.color }));
        line.appendChild(document.createTextNode(r.ser.name + ': ' + fmt(panel.unit, r.v)));
        tip.appendChild(line);
      });
      tip.hidden = false;
      var box = s.getBoundingClientRect(), figBox = fig.getBoundingClientRect();
      var px = box.left - figBox.left + x / W * box.width;
      tip.style.top = (box.top - figBox.top + 12) + 'px';
      if (px > figBox.width / 2) { tip.style.left = ''; tip.style.right = (figBox.width - px + 10) + 'px'; }
      else { tip.style.right = ''; tip.style.left = (px + 10) + 'px'; }
    }
    function hide() { index = -1; tip.hidden = true; cursor.setAttribute('visibility', 'hidden'); }
    function nearest(clientX) {
      var box = s.getBoundingClientRect();
      var x = (clientX - box.left) / box.width * W;
      var t = x0 + (x - L) / (W - L - R) * span - view.step / 2;
      return Math.max(0, Math.min(times.length - 1, Math.round((t - times[0]) / view.step)));
    }
    overlay.addEventListener('mousemove', function (e) { show(nearest(e.clientX)); });
    overlay.addEventListener('mouseleave', hide);
    s.addEventListener('focus', function () { show(index >= 0 ? index : lastIndex(series)); });
    s.addEventListener('blur', hide);
    s.addEventListener('keydown', function (e) {
      if (e.key === 'ArrowLeft') { show(Math.max(0, index - 1)); e.preventDefault(); }
      else if (e.key === 'ArrowRight') { show(Math.min(times.length - 1, index + 1)); e.preventDefault(); }
      else if (e.key === 'Home') { show(0); e.preventDefault(); }
      else if (e.key === 'End') { show(times.length - 1); e.preventDefault(); }
      else if (e.key === 'Escape') { hide(); }
    });
    return fig;
  }
  function lastIndex(series) {
    var last = 0;
    series.forEach(function (s) { s.points.forEach(function (p, j) { if (p[1] !== null && j > last) last = j; }); });
    return last;
  }

  function setUpdated(data) {
    var u = document.getElementById('updated');
    if (u) u.textContent = 'Updated ' + fullTime(data.now).slice(11) + (data.range === 'custom' ? '' : ' · last ' + data.range);
  }

  // The Overview: a one-line verdict, the status table (per group and all), GPUs used/free, charts.
  function renderOverview(data) {
    var main = document.getElementById('content');
    main.textContent = '';
    var hints = [data.hints.records, data.hints.series].filter(Boolean);
    hints.forEach(function (h) { main.appendChild(el('div', { 'class': 'banner info', role: 'note' }, h.replace('http://HOST:PORT', location.origin))); });
    if (hints.length === 2) {
      // Nothing at all yet: the two hints are the page; empty charts would only add noise.
      main.appendChild(el('p', { 'class': 'muted', id: 'empty-overview' }, 'Once data arrives, this page shows per model and for the whole endpoint: ' +
        'requests, errors by kind, TTFT / ITL / end-to-end percentiles, tokens per second, concurrency, cost per hour and per 1M tokens, ' +
        'GPU compute and memory per GPU with their thresholds, KV-cache usage, queue depth, and GPUs used and free.'));
      setUpdated(data);
      return;
    }
    var st = data.status, problems = [], warnings = [];
    // The verdict names groups; the whole-endpoint row only when there are no groups.
    var named = st.rows.filter(function (r) { return r.name !== 'all'; });
    (named.length ? named : st.rows).forEach(function (row) {
      row.cells.forEach(function (c, i) {
        var col = st.columns[i];
        var what = (row.name === '(none)' ? 'GPUs without a ' + st.by : row.name === 'all' ? 'endpoint' : row.name) + ': ' + col.title + ' ' + fmt(col.unit, c.v);
        if (c.state === 'bad') problems.push(what);
        else if (c.state === 'warn') warnings.push(what + ' (high)');
        else if (c.state === 'low') warnings.push(what + ' (under-used)');
      });
    });
    if (!data.hints.records || !data.hints.series) {
      var kind = problems.length ? 'bad' : warnings.length ? 'warn' : 'ok';
      var banner = el('div', { 'class': 'banner ' + kind, role: 'status', id: 'verdict' });
      banner.appendChild(el('strong', {}, problems.length ? problems.length + ' problem' + (problems.length > 1 ? 's' : '') +
        (warnings.length ? ' and ' + warnings.length + ' to watch' : '') + ' in the last 5 minutes'
        : warnings.length ? 'Working, with ' + warnings.length + ' thing' + (warnings.length > 1 ? 's' : '') + ' to watch' : 'All groups within thresholds in the last 5 minutes'));
      if (problems.length + warnings.length) {
        var ul = el('ul');
        problems.concat(warnings).slice(0, 10).forEach(function (p) { ul.appendChild(el('li', {}, p)); });
        banner.appendChild(ul);
      }
      main.appendChild(banner);
    }
    main.appendChild(el('h2', {}, 'Now (last 5 minutes) per ' + st.by + ' and for the whole endpoint'));
    var wrap = el('div', { 'class': 'table-wrap' });
    var table = el('table', { 'class': 'status', id: 'status-table' });
    var thead = el('thead'), hr = el('tr');
    hr.appendChild(el('th', { scope: 'col' }, st.by));
    st.columns.forEach(function (c) { hr.appendChild(el('th', { scope: 'col' }, c.title)); });
    thead.appendChild(hr); table.appendChild(thead);
    var tbody = el('tbody');
    st.rows.forEach(function (row) {
      var tr = el('tr', { 'class': row.name === 'all' ? 'all' : '' });
      tr.appendChild(el('th', { scope: 'row' }, row.name === '(none)' ? '(no ' + st.by + ')' : row.name));
      row.cells.forEach(function (c, i) {
        var td = el('td', { 'class': c.state }, fmt(st.columns[i].unit, c.v));
        if (c.state === 'bad' || c.state === 'warn' || c.state === 'low') td.title = { bad: 'over its red threshold', warn: 'high', low: 'under-used' }[c.state];
        tr.appendChild(td);
      });
      tbody.appendChild(tr);
    });
    table.appendChild(tbody); wrap.appendChild(table); main.appendChild(wrap);
    var g = data.status.gpus;
    if (g.total !== null) {
      var gp = el('p', { 'class': 'gpus', id: 'gpus' });
      var cells = el('span', { 'aria-hidden': 'true' });
      for (var i = 0; i < Math.round(g.total || 0); i++) cells.appendChild(el('span', { 'class': 'cell ' + (i < Math.round(g.used || 0) ? 'used' : 'free') }));
      gp.appendChild(cells);
      gp.appendChild(el('span', {}, 'GPUs: ' + num(g.used || 0) + ' used, ' + num(g.free || 0) + ' free, of ' + num(g.total || 0)));
      main.appendChild(gp);
    }
    data.sections.forEach(function (section) {
      main.appendChild(el('h2', {}, section.title));
      var grid = el('div', { 'class': 'grid' });
      section.panels.forEach(function (p) { grid.appendChild(chart(p, data)); });
      main.appendChild(grid);
    });
    setUpdated(data);
  }

  // Compare: the chosen groups on the same axes, then a summary over the whole range.
  function renderCompare(data) {
    var main = document.getElementById('content');
    main.textContent = '';
    var box = document.getElementById('choices');
    if (box) {
      box.textContent = '';
      box.appendChild(el('legend', {}, 'Compare'));
      if (!data.available.length) box.appendChild(el('span', { 'class': 'muted' }, 'nothing in this range'));
      data.available.forEach(function (name, i) {
        var label = el('label');
        var input = el('input', { type: 'checkbox', name: 'only', value: name });
        if (data.chosen.indexOf(name) >= 0) input.checked = true;
        label.appendChild(input); label.appendChild(document.createTextNode(name));
        box.appendChild(label);
      });
    }
    if (!data.available.length) {
      main.appendChild(el('div', { 'class': 'banner info' }, 'No requests in this range to compare. Pick a longer range, or send traffic first: ' +
        'Compare needs records from two or more models or variants.'));
      setUpdated(data);
      return;
    }
    main.appendChild(el('h2', {}, 'Over the whole range'));
    var wrap = el('div', { 'class': 'table-wrap' });
    var table = el('table', { 'class': 'status', id: 'compare-table' });
    var hr = el('tr');
    hr.appendChild(el('th', { scope: 'col' }, data.dimension.replace(',', ' · ')));
    data.summary.columns.forEach(function (c) { hr.appendChild(el('th', { scope: 'col' }, c.title)); });
    var thead = el('thead'); thead.appendChild(hr); table.appendChild(thead);
    var tbody = el('tbody');
    data.summary.rows.forEach(function (row) {
      var tr = el('tr');
      tr.appendChild(el('th', { scope: 'row' }, row.name));
      row.cells.forEach(function (v, i) { tr.appendChild(el('td', {}, fmt(data.summary.columns[i].unit, v))); });
      tbody.appendChild(tr);
    });
    table.appendChild(tbody); wrap.appendChild(table); main.appendChild(wrap);
    main.appendChild(el('h2', {}, 'Over time, same axes'));
    var grid = el('div', { 'class': 'grid' });
    data.panels.forEach(function (p) { grid.appendChild(chart(p, data)); });
    main.appendChild(grid);
    setUpdated(data);
  }

  function load(url, render) {
    return fetch(url, { headers: { accept: 'application/json' } }).then(function (r) {
      if (!r.ok) return r.text().then(function (t) { throw new Error('HTTP ' + r.status + ': ' + t.slice(0, 200)); });
      return r.json();
    }).then(function (data) { render(data); document.body.dataset.loaded = 'true'; })
      .catch(function (e) { noteError(e.message); });
  }

  // A search that found nothing in its time budget goes on by itself: each older page is fetched
  // (and answered within the listing's budget) until one holds matches, which is then shown, or
  // the range ends. The banner says how far back it has got.
  function keepSearching(banner, rounds) {
    var next = banner.dataset.next;
    if (!next || rounds <= 0) return;
    fetch(next, { headers: { accept: 'text/html' } }).then(function (r) {
      if (!r.ok) throw new Error('HTTP ' + r.status + ' searching older requests');
      return r.text();
    }).then(function (html) {
      var doc = new DOMParser().parseFromString(html, 'text/html');
      if (doc.getElementById('request-list')) { location.replace(next); return; }
      var further = doc.getElementById('no-match');
      banner.textContent = further ? further.textContent : 'No request in this range matches these filters.';
      if (further && further.dataset.next) {
        banner.dataset.next = further.dataset.next;
        var older = document.getElementById('older');
        if (older) older.setAttribute('href', further.dataset.next);
        keepSearching(banner, rounds - 1);
      } else {
        delete banner.dataset.next;
        var link = document.getElementById('older');
        if (link) link.remove();
        document.body.dataset.searched = 'true';
      }
    }).catch(function (e) { noteError(e.message); });
  }

  function start() {
    var page = document.body.dataset.page;
    var noMatch = document.getElementById('no-match');
    if (noMatch && noMatch.dataset.next) keepSearching(noMatch, 500);
    var form = document.querySelector('form.controls');
    if (form) {
      var range = form.querySelector('select[name=range]');
      var custom = form.querySelectorAll('.custom');
      var toggle = function () { custom.forEach(function (c) { c.hidden = range.value !== 'custom'; }); };
      if (range) { toggle(); }
      form.addEventListener('change', function (e) {
        if (e.target === range) { toggle(); if (range.value === 'custom') return; }
        if (e.target.type === 'datetime-local' || e.target.type === 'text' || e.target.type === 'search') return;
        form.requestSubmit ? form.requestSubmit() : form.submit();
      });
      // Empty fields stay out of the URL, so shared links stay short.
      form.addEventListener('submit', function () {
        form.querySelectorAll('input, select').forEach(function (i) { if (!i.value || (i.closest('.custom') && i.closest('.custom').hidden)) i.disabled = true; });
      });
    }
    var source = { overview: ['/ui/data/overview', renderOverview], compare: ['/ui/data/compare', renderCompare] }[page];
    var refresh = parseInt(document.body.dataset.refresh || '0', 10);
    if (source) {
      var url = source[0] + location.search;
      load(url, source[1]);
      if (refresh > 0) setInterval(function () { load(url, source[1]); }, refresh * 1000);
    } else if (refresh > 0) {
      setTimeout(function () { location.reload(); }, refresh * 1000);
    }
    if (!errors) document.body.dataset.errors = '0';
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start); else start();
})();
"""#
}
