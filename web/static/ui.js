// hookflow UI: the live run log (server-sent events from the API) with ANSI
// colours, a jobs run's graph and job sections, and lists that keep
// themselves up to date. Text that comes as data is only ever put into the
// page with textContent; the fragments swapped in by refresh() and merge()
// are the server's own escaped templates.
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

  // merge brings the job sections inside el up to date from the server's
  // rendering of them (without their logs): a section's body is replaced
  // unless the keyboard focus is in it, a new job (a matrix cell) gets a
  // section, and each section keeps the log lines it holds.
  function merge(el, force) {
    var url = el.getAttribute('data-merge');
    if (!url || (!force && document.hidden)) {
      return Promise.resolve();
    }
    return fetch(url, { credentials: 'same-origin' }).then(function (r) {
      if (!r.ok || r.redirected) {
        el.removeAttribute('data-merge');
        return;
      }
      return r.text().then(function (html) {
        var fresh = new DOMParser().parseFromString(html, 'text/html');
        var order = [];
        fresh.querySelectorAll('section.job').forEach(function (f) {
          var s = jobSection(el, f.getAttribute('data-job'));
          if (!s) {
            s = document.importNode(f, true);
          } else {
            // A section the log stream made has neither id nor heading yet.
            s.id = f.id;
            s.setAttribute('aria-labelledby', f.getAttribute('aria-labelledby'));
            var h = s.querySelector('h2');
            if (h !== document.activeElement) {
              h.replaceWith(document.importNode(f.querySelector('h2'), true));
            }
            var body = s.querySelector('.job-body');
            if (force || !body.contains(document.activeElement)) {
              body.replaceWith(document.importNode(f.querySelector('.job-body'), true));
            }
            var log = s.querySelector('.job-log'), names = f.querySelector('.job-log').getAttribute('data-steps');
            if (log.getAttribute('data-steps') !== names) {
              log.setAttribute('data-steps', names);
              logView(log, 'Job').retitle();
            }
          }
          order.push(s);
        });
        // A job the server no longer lists (a matrix job's stand-in, once
        // its cells are known) goes, unless it holds log lines.
        Array.prototype.forEach.call(el.children, function (s) {
          if (order.indexOf(s) < 0 && s.querySelector('.ln')) { order.push(s); }
        });
        var same = order.length === el.children.length && order.every(function (s, i) { return el.children[i] === s; });
        if (!same) { el.replaceChildren.apply(el, order); }
      });
    }).catch(function () {});
  }

  function jobSection(el, key) {
    var found = null;
    Array.prototype.forEach.call(el.children, function (s) {
      if (s.getAttribute('data-job') === key) { found = s; }
    });
    return found;
  }

  setInterval(function () {
    document.querySelectorAll('[data-refresh]').forEach(function (el) { refresh(el, false); });
    document.querySelectorAll('[data-merge]').forEach(function (el) { merge(el, false); });
  }, 4000);

  // A click on a job in the graph brings its section into view and moves the
  // focus there, out of the graph that reloads.
  document.addEventListener('click', function (e) {
    var a = e.target.closest ? e.target.closest('#job-graph a') : null;
    var id = a ? (a.getAttribute('href') || '').slice(1) : '';
    var target = id ? document.getElementById(id) : null;
    if (!target) { return; }
    e.preventDefault();
    history.replaceState(null, '', '#' + id);
    target.scrollIntoView({ block: 'start' });
    var h = target.querySelector('h2');
    if (h) { h.focus({ preventScroll: true }); }
  });

  // stream follows a run's log as server-sent events, from src: each line
  // goes to onLine, which returns false for a line it skipped. At the end the
  // status line says how the run ended, the summary reloads, and onEnd runs.
  function stream(src, final, count, onLine, onEnd) {
    var status = document.getElementById('log-status');
    var source = new EventSource(src);
    source.onopen = function () {
      if (!final) { status.textContent = 'Following the log live…'; }
    };
    source.addEventListener('log', function (e) {
      if (onLine(JSON.parse(e.data)) !== false) { count++; }
    });
    source.addEventListener('end', function (e) {
      source.close();
      var run = JSON.parse(e.data);
      status.textContent = 'Run ' + run.status.replace('_', ' ') + '; ' + count + ' log line' + (count === 1 ? '' : 's') + '.';
      var summary = document.getElementById('run-summary');
      if (summary && summary.hasAttribute('data-refresh')) {
        refresh(summary, true).then(function () { summary.removeAttribute('data-refresh'); });
      }
      if (onEnd) { onEnd(); }
    });
    source.onerror = function () {
      status.textContent = source.readyState === EventSource.CLOSED ?
        'The log could not be loaded; reload the page.' : 'Connection lost; reconnecting…';
    };
  }

  function follow(log) {
    var view = logView(log, 'Run');
    stream(log.getAttribute('data-src'), log.getAttribute('data-final') === 'true', 0, function (l) { view.append(l); });
  }

  // followJobs follows a jobs run's log from the last line the page holds,
  // each line going to the log of its job.
  function followJobs(jobs) {
    jobs.querySelectorAll('.job-log').forEach(function (l) { logView(l, 'Job'); });
    // The stream's URL starts after the page's last line, and so does a
    // reconnection: a line already shown is skipped.
    var last = Number(jobs.getAttribute('data-after')) || 0;
    stream(jobs.getAttribute('data-src'), jobs.getAttribute('data-final') === 'true', Number(jobs.getAttribute('data-lines')) || 0,
      function (l) {
        if (l.seq <= last) { return false; }
        last = l.seq;
        var s = jobSection(jobs, l.job || '') || newJobSection(jobs, l.job || '');
        logView(s.querySelector('.job-log'), 'Job').append(l);
      },
      function () {
        if (jobs.hasAttribute('data-merge')) {
          merge(jobs, true).then(function () { jobs.removeAttribute('data-merge'); });
        }
      });
  }

  // newJobSection is the section of a job the page does not know yet; the
  // next merge fills in its steps.
  function newJobSection(jobs, key) {
    var s = document.createElement('section');
    s.className = 'job';
    s.setAttribute('data-job', key);
    var h = document.createElement('h2');
    h.textContent = key || 'Run';
    var body = document.createElement('div');
    body.className = 'job-body';
    var l = document.createElement('div');
    l.className = 'log job-log';
    l.tabIndex = 0;
    l.setAttribute('aria-label', 'Log of ' + h.textContent);
    s.append(h, body, l);
    jobs.appendChild(s);
    return s;
  }

  // logView is the view of a log element: lines are appended in sections,
  // one per run of lines of a step. Lines the server rendered into it are
  // coloured, and the last of its sections continues.
  function logView(log, outside) {
    if (log.view) { return log.view; }
    var v = { current: null, step: null, seen: {}, stick: true };
    log.addEventListener('scroll', function () {
      v.stick = log.scrollTop + log.clientHeight >= log.scrollHeight - 8;
    });
    Array.prototype.forEach.call(log.children, function (s) {
      s.ansi = { stdout: {}, stderr: {}, system: {} };
      s.querySelectorAll('.ln').forEach(function (d) {
        var txt = d.querySelector('.txt'), text = txt.textContent;
        var stream = d.classList.contains('stderr') ? 'stderr' : d.classList.contains('system') ? 'system' : 'stdout';
        txt.textContent = '';
        ansi(txt, text, s.ansi[stream]);
      });
      v.step = Number(s.getAttribute('data-step'));
      v.seen[String(v.step)] = true;
      v.current = s;
    });
    v.append = function (l) {
      if (l.step !== v.step || !v.current) {
        v.current = section(l.step);
        v.step = l.step;
      }
      v.current.appendChild(line(l, v.current.ansi));
      if (v.stick) { log.scrollTop = log.scrollHeight; }
    };
    // retitle names the sections anew, once the steps' names are known.
    v.retitle = function () {
      var names = JSON.parse(log.getAttribute('data-steps') || '{}');
      Array.prototype.forEach.call(log.children, function (s) {
        var h = s.querySelector('h3');
        if (h) { h.textContent = title(names, Number(s.getAttribute('data-step')), s.hasAttribute('data-continued')); }
      });
    };
    function title(names, step, continued) {
      var t = step < 0 ? outside : (step + 1) + '. ' + (names[String(step)] || 'step-' + (step + 1));
      return continued ? t + ' (continued)' : t;
    }
    // section starts the log of a step; a step seen before continues.
    function section(step) {
      var key = String(step);
      var s = document.createElement('section');
      var h = document.createElement('h3');
      h.textContent = title(JSON.parse(log.getAttribute('data-steps') || '{}'), step, v.seen[key]);
      if (v.seen[key]) { s.setAttribute('data-continued', ''); }
      v.seen[key] = true;
      s.setAttribute('data-step', key);
      s.appendChild(h);
      s.ansi = { stdout: {}, stderr: {}, system: {} };
      log.appendChild(s);
      return s;
    }
    log.view = v;
    return v;
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

  // Last, once every variable above is set: follow the page's log.
  var log = document.getElementById('log');
  if (log && window.EventSource) {
    follow(log);
  }
  var jobs = document.getElementById('jobs');
  if (jobs && window.EventSource) {
    followJobs(jobs);
  }
})();
