/* The wall's browser side: fetching what changed, the clock and the rotation.
 *
 * Timers, not Dash components. Dash's renderer keeps an undo history of every change to a property
 * that some callback takes as an input, and never trims it: with dcc.Interval timers (and a status
 * store) as callback inputs, a wall screen added an entry every second or so, and copied the whole
 * list each time, for as long as it ran (hundreds of megabytes over weeks). So the page runs two
 * plain timers of its own and writes, with dash_clientside.set_props, only properties that no
 * callback takes as an input. Two clientside callbacks remain: start() once, when the page's config
 * arrives, and choose() when someone picks a category on the map (never, on a kiosk screen).
 *
 * refresh(): every refresh_ms, one GET of the wall feed (see callbacks/wall.py), sending the
 *   fingerprints of what this screen already shows; the answer holds only the panels that differ,
 *   applied with dash_clientside.set_props. At most one request is in flight: a tick that comes
 *   while the previous answer is still awaited is skipped, so a slow server never gets a pile of
 *   overlapping requests. An unreachable server or store keeps the picture and marks it stale; the
 *   next answer that arrives brings the screen back by itself.
 *
 * push: when the page's config names a stream_url, the screen also opens an EventSource on it
 *   (see dashboard/push.py). Each event is an answer of the same kind, sent the moment the
 *   aggregator publishes a new snapshot; while the stream is open and alive, the timer's polls are
 *   skipped. A stream that fails or falls silent is closed and reopened with a growing delay, and
 *   polling carries on meanwhile, so push is never the only way the screen stays current.
 *
 * tick(): every second, and whenever new figures or a failure arrive: the clock, the "updated N s
 *   ago" text and the view of the playlist. Ages are measured on the server's clock (checked_at plus
 *   the time elapsed here since that status arrived), so a wall PC with a wrong clock still reports
 *   the right age. The view follows the same clock (see dashboard/playlist.py): screens in one room
 *   turn together, and ?view=<name> in the URL pins a screen to one view.
 */
(function () {
  "use strict";

  var seen = { checked: null, at: 0 };
  var formatters = {};

  function parts(seconds, tz) {
    if (!formatters[tz]) {
      formatters[tz] = new Intl.DateTimeFormat("en-GB", {
        timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit",
        hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23"
      });
    }
    var out = {};
    formatters[tz].formatToParts(new Date(seconds * 1000)).forEach(function (p) { out[p.type] = p.value; });
    return out;
  }

  function fullTime(seconds, tz) {
    var p = parts(seconds, tz);
    return p.year + "-" + p.month + "-" + p.day + " " + p.hour + ":" + p.minute + ":" + p.second;
  }

  function shortTime(seconds, tz, now) {
    var p = parts(seconds, tz), q = parts(now, tz);
    var sameDay = p.year === q.year && p.month === q.month && p.day === q.day;
    return (sameDay ? "" : p.month + "-" + p.day + " ") + p.hour + ":" + p.minute;
  }

  function fill(template, key, value) {
    return String(template).split("{" + key + "}").join(String(value));
  }

  function hasData(status) {
    return status.built_at !== null && status.built_at !== undefined;
  }

  var pinned = new URLSearchParams(window.location.search).get("view");

  function viewAt(cfg, now) {
    if (pinned && cfg.views.indexOf(pinned) >= 0) { return pinned; }
    var list = cfg.playlist, cycle = 0, i;
    for (i = 0; i < list.length; i++) { cycle += list[i][1]; }
    var t = ((Math.floor(now) % cycle) + cycle) % cycle;
    for (i = 0; i < list.length; i++) {
      if (t < list[i][1]) { return list[i][0]; }
      t -= list[i][1];
    }
    return list[list.length - 1][0];
  }

  var written = {};     // "id.prop" -> the value last written, so an unchanged one is not written again

  function write(id, prop, value) {
    var key = id + "." + prop, text = typeof value === "string" ? value : JSON.stringify(value);
    if (written[key] === text) { return; }
    written[key] = text;
    var props = {};
    props[prop] = value;
    setProps(id, props);
  }

  function tick() {
    var cfg = feed.cfg, status = feed.status;
    if (!cfg || !status) { return; }
    var local = Date.now() / 1000;
    if (status.checked_at !== seen.checked) { seen.checked = status.checked_at; seen.at = local; }
    var now = status.checked_at ? status.checked_at + (local - seen.at) : local;
    var replay = status.mode === "replay" && status.as_of;
    var clock = replay ? status.as_of.slice(0, 19).replace("T", " ") : fullTime(now, cfg.tz);
    var t = cfg.text, state = status.state, text;
    if (state === "stale") {
      // Which part is down: the wall's own server (no answer at all) or its data store (Redis).
      var server = status.cause === "server";
      text = hasData(status)
        ? fill(server ? t.server_stale_since : t.stale_since, "t", shortTime(status.built_at, cfg.tz, now))
        : (server ? t.server_unreachable : t.unreachable);
    } else if (state === "missing" || !hasData(status)) {
      state = "missing";
      text = t.waiting;
    } else {
      var age = Math.max(0, Math.floor(now - status.built_at));
      if (age > cfg.stale_after_s) {
        state = "delayed";
        text = fill(t.delayed_since, "t", shortTime(status.built_at, cfg.tz, now));
      } else {
        state = "live";
        text = age < 2 ? t.updated_now : fill(t.updated_ago, "n", age);
      }
    }
    write(cfg.clock, "children", clock);
    write(cfg.freshness, "children", text);
    write(cfg.freshness, "className", "freshness is-" + state);
    write(cfg.replay, "style", replay ? {} : { display: "none" });
    write(cfg.canvas, "className", "wall view-" + viewAt(cfg, now));
  }

  // -- refresh -------------------------------------------------------------------------------

  var feed = { cfg: null, category: null, shown: {}, inflight: null, started: 0, view: null, seq: 0, applied: 0,
               status: null, figures: {} };

  function setProps(id, props) {
    window.dash_clientside.set_props(id, props);
  }

  function styledMap(figure, style) {
    var data = figure.data.map(function (trace, i) {
      return i < style.fills.length ? Object.assign({}, trace, { fillcolor: style.fills[i] }) : trace;
    });
    var notes = (figure.layout.annotations || []).map(function (a, i) {
      if (i === 0) { return Object.assign({}, a, { text: style.note }); }
      if (i - 1 < style.labels.length) {
        return Object.assign({}, a, { text: style.labels[i - 1],
                                      font: Object.assign({}, a.font, { color: style.inks[i - 1] }) });
      }
      return a;
    });
    return { data: data, layout: Object.assign({}, figure.layout, { annotations: notes }) };
  }

  function apply(cfg, answer, category, shown) {
    var previous = feed.status || {};
    var status = answer.status;
    if (status.state === "missing" && hasData(previous) && previous.category === category) {
      // The snapshot is gone (Redis restarted empty): keep the picture; its age says how old it is.
      status = Object.assign({}, previous, { state: "live", checked_at: status.checked_at });
    } else {
      status.prints = answer.prints;
    }
    var parts = {};
    Object.keys(answer.panels).forEach(function (name) {
      var value = answer.panels[name];
      var m = /^(.+)\.figure\.(data|layout)$/.exec(name);
      if (m) {
        (parts[m[1]] = parts[m[1]] || {})[m[2]] = value;
      } else if (name === cfg.map + ".style") {
        var current = feed.figures[cfg.map] || shown[cfg.map];
        if (current && current.data) {
          feed.figures[cfg.map] = styledMap(current, value);
          setProps(cfg.map, { figure: feed.figures[cfg.map] });
        }
      } else {
        var dot = name.lastIndexOf("."), props = {};
        props[name.slice(dot + 1)] = value;
        setProps(name.slice(0, dot), props);
      }
    });
    Object.keys(parts).forEach(function (id) {
      var current = feed.figures[id] || shown[id] || {};
      var figure = { data: parts[id].data || current.data || [], layout: parts[id].layout || current.layout || {} };
      feed.figures[id] = figure;
      setProps(id, { figure: figure });
    });
    feed.status = status;
    tick();
  }

  function stale(cfg, cause) {
    if (!feed.status) { return; }
    feed.status = Object.assign({}, feed.status, { state: "stale", cause: cause });
    tick();
  }

  // -- push ----------------------------------------------------------------------------------

  var push = { source: null, view: null, lastAt: 0, openedAt: 0, failures: 0, retryAt: 0 };
  var PUSH_SILENT_MS = 12000;    // the server sends at least a ping every 5 s

  function closeStream() {
    if (push.source) { push.source.close(); }
    push.source = null;
  }

  function streamFailed() {
    closeStream();
    push.failures += 1;
    push.retryAt = Date.now() + Math.min(30000, 1000 * Math.pow(2, push.failures - 1));
  }

  function openStream(cfg, category) {
    var current = feed.status || {};
    var have = current.category === category && current.prints ? current.prints : "";
    var url = cfg.stream_url + "?category=" + encodeURIComponent(category) + "&have=" + encodeURIComponent(have);
    if (feed.inflight) { feed.inflight.abort(); }    // its answer could be older than the stream's
    var source = new EventSource(url);
    push.source = source;
    push.view = category;
    push.openedAt = push.lastAt = Date.now();
    source.onmessage = function (event) {
      if (push.source !== source) { return; }
      push.lastAt = Date.now();
      push.failures = 0;
      var answer;
      try { answer = JSON.parse(event.data); } catch (e) { return; }
      feed.applied = ++feed.seq;        // a poll answer still on its way is older than this
      if (answer.error === "store_unavailable") {
        stale(cfg, "store");
      } else if (answer.error === "unknown_category") {
        closeStream();
        setProps(cfg.category, { value: cfg.all });
      } else if (!answer.error) {
        apply(cfg, answer, category, feed.shown);
      }
    };
    source.addEventListener("ping", function () {
      if (push.source === source) { push.lastAt = Date.now(); }
    });
    source.onerror = function () {
      if (push.source === source) { streamFailed(); }   // polling takes over until it reopens
    };
  }

  // True when the stream carries this screen, so the timer need not poll.
  function pushed(cfg, category) {
    if (!cfg.stream_url || !window.EventSource) { return false; }
    var now = Date.now();
    if (push.source && (push.view !== category || now - push.lastAt > PUSH_SILENT_MS)) {
      if (push.view === category) { streamFailed(); } else { closeStream(); }
    }
    if (!push.source && now >= push.retryAt) { openStream(cfg, category); }
    return !!push.source;
  }

  function refresh() {
    var cfg = feed.cfg, category = feed.category, shown = feed.shown;
    if (!cfg) { return; }
    if (pushed(cfg, category)) { return; }
    var timeout = Math.max(10000, 3 * cfg.refresh_ms);
    var started = Date.now();
    if (feed.inflight) {
      if (feed.view === category && started - feed.started < timeout) { return; }   // no pile-up
      feed.inflight.abort();
    }
    var current = feed.status;
    var have = current.category === category && current.prints ? current.prints : "";
    var control = new AbortController();
    var timer = setTimeout(function () { control.abort(); }, timeout);
    var seq = ++feed.seq;
    feed.inflight = control;
    feed.started = started;
    feed.view = category;
    var url = cfg.feed_url + "?category=" + encodeURIComponent(category) + "&have=" + encodeURIComponent(have);
    fetch(url, { signal: control.signal, cache: "no-store", credentials: "same-origin" })
      .then(function (response) {
        if (response.status === 400 && category !== cfg.all) {
          setProps(cfg.category, { value: cfg.all });   // a view that no longer exists
          return null;
        }
        if (!response.ok) { throw new Error("the wall server answered " + response.status); }
        return response.json();
      })
      .then(function (answer) {
        if (answer && seq >= feed.applied) {
          feed.applied = seq;
          if (answer.error) { stale(cfg, "store"); } else { apply(cfg, answer, category, shown); }
        }
      })
      .catch(function () {
        if (seq >= feed.applied && !(control.signal.aborted && feed.inflight !== control)) {
          feed.applied = seq;
          stale(cfg, "server");
        }
      })
      .finally(function () {
        clearTimeout(timer);
        if (feed.inflight === control) { feed.inflight = null; }
      });
  }

  // Once per page, when its config arrives (the config store never changes): the figures the page
  // was rendered with, then the two timers.
  function start(cfg, status) {
    if (!cfg || feed.cfg) { return; }
    for (var i = 0; i < cfg.graphs.length; i++) { feed.shown[cfg.graphs[i]] = arguments[2 + i]; }
    feed.cfg = cfg;
    feed.status = status || {};
    feed.category = feed.category || cfg.all;
    tick();
    refresh();
    setInterval(tick, 1000);
    setInterval(refresh, cfg.refresh_ms);
  }

  // Someone picked a category on the map: fetch that view now.
  function choose(category) {
    feed.category = category || (feed.cfg ? feed.cfg.all : null);
    if (feed.cfg) { refresh(); }
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    civicwall: { start: start, choose: choose }
  });
})();
