// hookflow UI: the run log (read as text in pages, then followed as
// server-sent events from the API) with ANSI colours and search, a jobs
// run's graph and job sections, and lists that keep themselves up to date.
// Text that comes as data is only ever put into the page with textContent
// (or as text nodes); the fragments swapped in by refresh() and merge() are
// the server's own escaped templates.
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
      return r.text().then(function (html) {
        el.innerHTML = html;
        // A part that says it is settled will not change again.
        if (el.querySelector('[data-settled]')) { el.removeAttribute('data-refresh'); }
      });
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
          var held = s.querySelector('.job-log');
          if (order.indexOf(s) < 0 && held && held.view && held.view.rows.length) { order.push(s); }
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

  // ROW is a log line's height in pixels, as ui.css sets it: the view draws
  // only the lines on screen, placed by their index.
  var ROW = 19;
  // PAGE is how many lines of a log one text request asks for.
  var PAGE = 20000;
  // LINE is a line of the text log: [job] time step stream | text.
  var LINE = /^(?:\[(.*?)\] )?(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (\S+) (stdout|stderr|system) \| ([^]*)$/;

  // loadText reads the text log at url in pages from the line after Seq
  // after: each line goes to onLine. It resolves with the Seq of the last
  // line it read. The next page is asked for as soon as a page's headers
  // say where it starts, while its lines are still read; past the end it
  // answers nothing.
  function loadText(url, after, onLine) {
    var sep = url.indexOf('?') < 0 ? '?' : '&';
    function page(from) {
      return fetch(url + sep + 'after=' + from + '&limit=' + PAGE, { credentials: 'same-origin' }).then(function (r) {
        if (!r.ok) { throw new Error('log answered ' + r.status); }
        return { next: Number(r.headers.get('Hookflow-Log-After')) || from, r: r };
      });
    }
    function read(pending) {
      return pending.then(function (p) {
        var ahead = page(p.next);
        return p.r.text().then(function (body) {
          var lines = body.split('\n'), n = 0;
          for (var i = 0; i < lines.length; i++) {
            var m = LINE.exec(lines[i]);
            if (!m) { continue; }
            n++;
            onLine({ job: m[1] || '', time: m[2], key: m[3], stream: m[4], text: m[5] });
          }
          if (n < PAGE) {
            ahead.catch(function () {});
            return p.next;
          }
          return read(ahead);
        });
      });
    }
    return read(page(after));
  }

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

  // load reads the stored log as text (data-text), then follows it
  // (data-src) from its last line until the run ends: at once for a
  // finished run.
  function load(el, after, count, onLine, onEnd) {
    var status = document.getElementById('log-status');
    loadText(el.getAttribute('data-text'), after, function (l) {
      if (onLine(l) !== false) { count++; }
    }).then(function (last) {
      var src = new URL(el.getAttribute('data-src'), location.href);
      src.searchParams.set('after', last);
      stream(src.href, el.getAttribute('data-final') === 'true', count, onLine, onEnd);
    }).catch(function () {
      status.textContent = 'The log could not be loaded; reload the page.';
    });
  }

  function follow(log) {
    var view = logView(log, 'Run');
    load(log, 0, 0, function (l) { view.append(l); });
  }

  // followJobs reads a jobs run's log from after the last line the page
  // holds, each line going to the log of its job.
  function followJobs(jobs) {
    jobs.querySelectorAll('.job-log').forEach(function (l) { logView(l, 'Job'); });
    // A line already shown is skipped, should a reconnection send it again.
    var last = Number(jobs.getAttribute('data-after')) || 0;
    load(jobs, last, Number(jobs.getAttribute('data-lines')) || 0,
      function (l) {
        if (l.seq !== undefined) {
          if (l.seq <= last) { return false; }
          last = l.seq;
        }
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

  // logView is the view of a log element: an array of rows (a title for
  // each run of lines of a step, then its lines), of which only those on
  // screen are in the page. Lines the server rendered into the element
  // become its first rows. A search bar goes before it.
  function logView(log, outside) {
    if (log.view) { return log.view; }
    var v = { rows: [], step: null, seen: {}, stick: true, states: null, query: '', hits: [], hit: -1, mark: -1, keys: null, queued: false };
    var space = document.createElement('div');
    space.className = 'log-space';
    var win = document.createElement('div');
    win.className = 'log-rows';
    space.appendChild(win);

    // keyIndex is the index of the step a text line names by its key.
    function keyIndex(key) {
      if (!v.keys) {
        var names = JSON.parse(log.getAttribute('data-steps') || '{}');
        v.keys = Object.create(null);
        Object.keys(names).forEach(function (i) { v.keys[names[i].split(' — ')[0]] = Number(i); });
      }
      if (key in v.keys) { return v.keys[key]; }
      if (key === 'run') { return -1; }
      var m = /^step-(\d+)$/.exec(key);
      return m ? Number(m[1]) - 1 : -1;
    }

    // append adds a line: a stored one ({step, stream, time, text}) or one
    // of the text log ({key, ...}).
    v.append = function (l) {
      var step = typeof l.step === 'number' ? l.step : keyIndex(l.key);
      if (step !== v.step || !v.states) {
        var key = String(step);
        v.rows.push({ title: true, step: step, continued: !!v.seen[key] });
        v.seen[key] = true;
        v.step = step;
        v.states = { stdout: {}, stderr: {}, system: {} };
      }
      var stream = streams[l.stream] ? l.stream : 'stdout';
      var st = v.states[stream], text = l.text || '';
      var row = { stream: stream, time: l.time, text: text, st: plain(st) ? null : Object.assign({}, st) };
      if (text.indexOf('\x1b') >= 0) { ansi(null, text, st); }
      if (v.query && text.toLowerCase().indexOf(v.query) >= 0) { v.hits.push(v.rows.length); }
      v.rows.push(row);
      schedule();
    };

    // retitle names the sections anew, once the steps' names are known.
    v.retitle = function () {
      v.keys = null;
      schedule();
    };
    function title(names, row) {
      var t = row.step < 0 ? outside : (row.step + 1) + '. ' + (names[String(row.step)] || 'step-' + (row.step + 1));
      return row.continued ? t + ' (continued)' : t;
    }

    function schedule() {
      if (!v.queued) {
        v.queued = true;
        requestAnimationFrame(render);
      }
    }

    // render draws the rows on screen and a few either side; while the view
    // sticks to the bottom, it scrolls there first.
    function render() {
      v.queued = false;
      space.style.height = v.rows.length * ROW + 'px';
      log.toggleAttribute('data-empty', v.rows.length === 0);
      if (v.stick) { log.scrollTop = log.scrollHeight; }
      var height = Math.max(log.clientHeight, 600);
      var first = Math.max(0, Math.floor((log.scrollTop - space.offsetTop) / ROW) - 20);
      var last = Math.min(v.rows.length, first + Math.ceil(height / ROW) + 40);
      var names = JSON.parse(log.getAttribute('data-steps') || '{}');
      var hits = {};
      v.hits.forEach(function (i) { hits[i] = true; });
      var frag = document.createDocumentFragment();
      for (var i = first; i < last; i++) {
        frag.appendChild(draw(v.rows[i], i, names, hits[i]));
      }
      win.style.transform = 'translateY(' + first * ROW + 'px)';
      win.replaceChildren(frag);
    }

    function draw(row, i, names, hit) {
      if (row.title) {
        var h = document.createElement('h3');
        h.className = 'ln-title';
        h.textContent = title(names, row);
        return h;
      }
      var d = line(row);
      if (hit) { d.classList.add('hit'); }
      if (i === v.mark) { d.classList.add('hit-current'); }
      if (hit && row.text.indexOf('\x1b') < 0) {
        // Plain text: the match itself is marked.
        var txt = d.querySelector('.txt'), lower = row.text.toLowerCase(), at = 0, k;
        txt.textContent = '';
        while ((k = lower.indexOf(v.query, at)) >= 0) {
          txt.append(row.text.slice(at, k));
          var mk = document.createElement('mark');
          mk.textContent = row.text.slice(k, k + v.query.length);
          txt.append(mk);
          at = k + v.query.length;
        }
        txt.append(row.text.slice(at));
      }
      return d;
    }

    // show scrolls row i into the middle of the view and marks it.
    v.show = function (i) {
      v.mark = i;
      v.stick = false;
      log.scrollTop = space.offsetTop + i * ROW - log.clientHeight / 2;
      render();
    };

    // search finds the lines holding q (any case); next steps through them.
    v.search = function (q) {
      v.query = q.toLowerCase();
      v.hits = [];
      v.hit = -1;
      v.mark = -1;
      if (v.query) {
        v.rows.forEach(function (r, i) {
          if (!r.title && r.text.toLowerCase().indexOf(v.query) >= 0) { v.hits.push(i); }
        });
      }
      schedule();
    };
    v.next = function (by) {
      if (!v.hits.length) { return; }
      v.hit = v.hit < 0 ? (by > 0 ? 0 : v.hits.length - 1) : (v.hit + by + v.hits.length) % v.hits.length;
      v.show(v.hits[v.hit]);
    };

    // firstError is the index of the first line naming an error, a failure
    // or something fatal; failing that, of the first line on stderr.
    v.firstError = function () {
      var word = /\b(error|fail|fatal)/i, stderr = -1;
      for (var i = 0; i < v.rows.length; i++) {
        var r = v.rows[i];
        if (r.title) { continue; }
        if (word.test(r.text)) { return i; }
        if (stderr < 0 && r.stream === 'stderr') { stderr = i; }
      }
      return stderr;
    };

    // The lines the server rendered, if any, come first.
    var stored = [];
    log.querySelectorAll('section[data-step]').forEach(function (s) {
      var step = Number(s.getAttribute('data-step'));
      s.querySelectorAll('.ln').forEach(function (d) {
        var t = d.querySelector('time');
        stored.push({ step: step, stream: d.classList.contains('stderr') ? 'stderr' : d.classList.contains('system') ? 'system' : 'stdout',
          time: t ? t.getAttribute('datetime') : '', text: d.querySelector('.txt').textContent });
      });
    });
    log.replaceChildren(space);
    log.before(searchBar(v, log));
    stored.forEach(v.append);
    log.addEventListener('scroll', function () {
      v.stick = log.scrollTop + log.clientHeight >= log.scrollHeight - ROW;
      schedule();
    });
    log.view = v;
    schedule();
    return v;
  }

  // searchBar is the search field, its match count and the way to the first
  // error, for view v of log.
  function searchBar(v, log) {
    var bar = document.createElement('div');
    bar.className = 'log-tools';
    bar.setAttribute('role', 'search');
    bar.setAttribute('aria-label', 'Search in ' + log.getAttribute('aria-label'));
    var label = document.createElement('label');
    label.textContent = 'Find ';
    var input = document.createElement('input');
    input.type = 'search';
    input.className = 'log-find';
    input.placeholder = 'text in the log';
    label.appendChild(input);
    var prev = button('Previous', 'Previous match (Shift+Enter)');
    var next = button('Next', 'Next match (Enter)');
    var count = document.createElement('span');
    count.className = 'log-count';
    count.setAttribute('role', 'status');
    var error = button('First error', 'The first line naming an error, a failure or something fatal; else the first on stderr');
    error.className = 'log-error';
    bar.append(label, prev, next, count, error);

    function say() {
      count.textContent = !v.query ? '' : v.hits.length ? (v.hit + 1) + ' of ' + v.hits.length : 'No match';
    }
    function go(by) {
      if (input.value.toLowerCase() !== v.query) { v.search(input.value); }
      v.next(by);
      say();
    }
    input.addEventListener('keydown', function (e) {
      if (e.key === 'Enter') {
        e.preventDefault();
        go(e.shiftKey ? -1 : 1);
      }
    });
    input.addEventListener('input', function () {
      if (!input.value) { v.search(''); say(); }
    });
    prev.addEventListener('click', function () { go(-1); });
    next.addEventListener('click', function () { go(1); });
    error.addEventListener('click', function () {
      var i = v.firstError();
      if (i < 0) {
        count.textContent = 'No error found';
        return;
      }
      v.show(i);
      count.textContent = 'First error: line ' + lineNumber(v, i);
    });
    return bar;
  }

  function button(text, tip) {
    var b = document.createElement('button');
    b.type = 'button';
    b.textContent = text;
    b.title = tip;
    return b;
  }

  // lineNumber counts the log lines up to row i, titles left out.
  function lineNumber(v, i) {
    var n = 0;
    for (var k = 0; k <= i; k++) {
      if (!v.rows[k].title) { n++; }
    }
    return n;
  }

  // plain reports whether an ANSI state is the default one (colour 0 is a
  // colour).
  function plain(st) {
    for (var k in st) {
      if (st[k] !== null && st[k] !== undefined && st[k] !== false) { return false; }
    }
    return true;
  }

  var streams = { stdout: 'out', stderr: 'err', system: 'sys' };

  function line(row) {
    var d = document.createElement('div');
    d.className = 'ln ' + row.stream;
    var t = document.createElement('time');
    var when = new Date(row.time);
    if (!isNaN(when)) {
      t.dateTime = when.toISOString();
      t.textContent = t.dateTime.slice(11, 23);
      t.title = t.dateTime;
    }
    var src = document.createElement('span');
    src.className = 'src';
    src.textContent = streams[row.stream];
    src.title = row.stream;
    var txt = document.createElement('span');
    txt.className = 'txt';
    ansi(txt, row.text, row.st ? Object.assign({}, row.st) : {});
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
    if (!s || !parent) { return; }
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

  // Last, once every variable above is set: load the page's log.
  var log = document.getElementById('log');
  if (log && window.EventSource) {
    follow(log);
  }
  var jobs = document.getElementById('jobs');
  if (jobs && window.EventSource) {
    followJobs(jobs);
  }
})();
