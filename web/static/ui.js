// hookflow UI: the live run log (server-sent events from the API) with ANSI
// colours, and lists that keep themselves up to date. Text that comes as data
// is only ever put into the page with textContent; the fragments swapped in by
// refresh() are the server's own escaped templates.
(function () {
  'use strict';

  // refresh reloads an element's content from its data-refresh URL, unless
  // the page is hidden or the keyboard focus is inside it (force overrides).
  function refresh(el, force) {
    var url = el.getAttribute('data-refresh');
    if (!url || (!force && (document.hidden || el.contains(document.activeElement)))) {
      return Promise.resolve();
    }
    return fetch(url, { credentials: 'same-origin' }).then(function (r) {
      if (!r.ok || r.redirected) {
        el.removeAttribute('data-refresh'); // logged out or gone: stop asking
        return;
      }
      return r.text().then(function (html) { el.innerHTML = html; });
    }).catch(function () {});
  }

  setInterval(function () {
    document.querySelectorAll('[data-refresh]').forEach(function (el) { refresh(el, false); });
  }, 4000);

  var log = document.getElementById('log');
  if (log && window.EventSource) {
    follow(log);
  }

  function follow(log) {
    var names = JSON.parse(log.getAttribute('data-steps') || '{}');
    var final = log.getAttribute('data-final') === 'true';
    var status = document.getElementById('log-status');
    var current = null, currentStep = null, seen = {}, count = 0, stick = true;

    log.addEventListener('scroll', function () {
      stick = log.scrollTop + log.clientHeight >= log.scrollHeight - 8;
    });

    var source = new EventSource(log.getAttribute('data-src'));
    source.onopen = function () {
      if (!final) { status.textContent = 'Following the log live…'; }
    };
    source.addEventListener('log', function (e) {
      var l = JSON.parse(e.data);
      if (l.step !== currentStep) {
        current = section(l.step);
        currentStep = l.step;
      }
      current.appendChild(line(l, current.ansi));
      count++;
      if (stick) { log.scrollTop = log.scrollHeight; }
    });
    source.addEventListener('end', function (e) {
      source.close();
      var run = JSON.parse(e.data);
      status.textContent = 'Run ' + run.status.replace('_', ' ') + '; ' + count + ' log line' + (count === 1 ? '' : 's') + '.';
      var summary = document.getElementById('run-summary');
      if (summary && summary.hasAttribute('data-refresh')) {
        refresh(summary, true).then(function () { summary.removeAttribute('data-refresh'); });
      }
    });
    source.onerror = function () {
      status.textContent = source.readyState === EventSource.CLOSED ?
        'The log could not be loaded; reload the page.' : 'Connection lost; reconnecting…';
    };

    // section starts the log of a step; a step seen before continues.
    function section(step) {
      var key = String(step);
      var s = document.createElement('section');
      var h = document.createElement('h3');
      var title = step < 0 ? 'Run' : (step + 1) + '. ' + (names[key] || 'step-' + (step + 1));
      h.textContent = seen[key] ? title + ' (continued)' : title;
      seen[key] = true;
      s.appendChild(h);
      s.ansi = { stdout: {}, stderr: {}, system: {} };
      log.appendChild(s);
      return s;
    }
  }

  var streams = { stdout: 'out', stderr: 'err', system: 'sys' };

  function line(l, states) {
    var d = document.createElement('div');
    var stream = streams[l.stream] ? l.stream : 'stdout';
    d.className = 'ln ' + stream;
    var t = document.createElement('time');
    var when = new Date(l.time);
    if (!isNaN(when)) {
      t.dateTime = when.toISOString();
      t.textContent = when.toISOString().slice(11, 23);
      t.title = when.toISOString();
    }
    var src = document.createElement('span');
    src.className = 'src';
    src.textContent = streams[stream];
    src.title = stream;
    var txt = document.createElement('span');
    txt.className = 'txt';
    ansi(txt, l.text, states[stream]);
    d.append(t, src, txt);
    return d;
  }

  // Escape sequences: SGR (colours) is applied; cursor moves, OSC titles and
  // the like are dropped.
  var ESCAPES = /\x1b\[([0-9;:?]*)([@-~])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]/g;

  function ansi(parent, text, st) {
    var cr = text.lastIndexOf('\r');
    if (cr >= 0 && cr < text.length - 1) {
      text = text.slice(cr + 1); // a progress bar shows its last state
    }
    var last = 0, m;
    ESCAPES.lastIndex = 0;
    while ((m = ESCAPES.exec(text)) !== null) {
      put(parent, text.slice(last, m.index), st);
      if (m[2] === 'm') { sgr(st, m[1]); }
      last = ESCAPES.lastIndex;
    }
    put(parent, text.slice(last), st);
  }

  function put(parent, s, st) {
    if (!s) { return; }
    var cls = [];
    if (st.b) { cls.push('a-b'); }
    if (st.d) { cls.push('a-d'); }
    if (st.i) { cls.push('a-i'); }
    if (st.u) { cls.push('a-u'); }
    if (typeof st.f === 'number') { cls.push('a-f' + st.f); }
    if (typeof st.k === 'number') { cls.push('a-k' + st.k); }
    if (!cls.length && !st.fc && !st.kc) {
      parent.appendChild(document.createTextNode(s));
      return;
    }
    var span = document.createElement('span');
    span.className = cls.join(' ');
    if (st.fc) { span.style.color = st.fc; }
    if (st.kc) { span.style.backgroundColor = st.kc; }
    span.textContent = s;
    parent.appendChild(span);
  }

  function sgr(st, params) {
    var p = params === '' ? [0] : params.split(/[;:]/).map(Number);
    for (var i = 0; i < p.length; i++) {
      var n = p[i];
      if (n === 0) { st.b = st.d = st.i = st.u = false; st.f = st.k = st.fc = st.kc = null; }
      else if (n === 1) { st.b = true; }
      else if (n === 2) { st.d = true; }
      else if (n === 3) { st.i = true; }
      else if (n === 4) { st.u = true; }
      else if (n === 22) { st.b = st.d = false; }
      else if (n === 23) { st.i = false; }
      else if (n === 24) { st.u = false; }
      else if (n >= 30 && n <= 37) { st.f = n - 30; st.fc = null; }
      else if (n >= 90 && n <= 97) { st.f = n - 82; st.fc = null; }
      else if (n === 39) { st.f = st.fc = null; }
      else if (n >= 40 && n <= 47) { st.k = n - 40; st.kc = null; }
      else if (n >= 100 && n <= 107) { st.k = n - 92; st.kc = null; }
      else if (n === 49) { st.k = st.kc = null; }
      else if (n === 38 || n === 48) {
        var fg = n === 38, index = null, rgb = null;
        if (p[i + 1] === 5) {
          index = p[i + 2];
          i += 2;
          if (!(index >= 0 && index < 256)) { index = null; }
          else if (index >= 16) { rgb = palette(index); index = null; }
        } else if (p[i + 1] === 2) {
          rgb = 'rgb(' + [p[i + 2], p[i + 3], p[i + 4]].map(channel).join(',') + ')';
          i += 4;
        }
        if (fg) { st.f = index; st.fc = rgb; } else { st.k = index; st.kc = rgb; }
      }
    }
  }

  function channel(v) { return Math.max(0, Math.min(255, v | 0)); }

  // palette is colour 16 to 255 of the 256-colour table.
  function palette(n) {
    if (n >= 232) {
      var g = 8 + (n - 232) * 10;
      return 'rgb(' + g + ',' + g + ',' + g + ')';
    }
    n -= 16;
    var level = [0, 95, 135, 175, 215, 255];
    return 'rgb(' + level[Math.floor(n / 36)] + ',' + level[Math.floor(n / 6) % 6] + ',' + level[n % 6] + ')';
  }
})();
