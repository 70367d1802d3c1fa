/* The manager page's browser side (callbacks/manager.py describes the feed it reads).
 *
 * The page's state (period, filters, deadline states and order, groupings, ranking) lives in the URL's
 * query string: start() reads it once and sets the controls to it (what in the address cannot be used
 * takes its default, and the red line says what and why); changed() runs when a person
 * changes a control or clicks a column to sort by, writes the new state into the URL (replaceState,
 * so the address can be bookmarked or shared at any moment) and fetches the feed. A timer refreshes
 * every refresh_ms; at most one request is in flight, and an answer older than one already applied is
 * dropped. Panels are written with dash_clientside.set_props into properties that no callback takes
 * as input, so Dash's undo history does not grow with the clock.
 *
 * tick(), every second: the clock, "updated N s ago" / "stale since", and the countdown of every
 * deadline in the list (the time is the server's: its clock at the last answer plus the time passed
 * here, times the replay clock's rate).
 */
(function () {
  "use strict";

  var DEFAULTS = { period: "today", state: ["overdue", "due_soon"], sort: "deadline", order: "asc",
                   times_by: "category", league_by: "unit", rank_by: "on_time_rate" };
  var LISTS = ["district", "category", "channel", "unit"];
  var SORTS = ["deadline", "age", "category", "district", "unit"];
  var page = { cfg: null, state: null, seq: 0, applied: 0, inflight: null, status: null, arrived: 0, failedAt: null,
               problems: [], serverError: null, errorShown: null, refused: false, shown: {}, unheld: [] };

  function copy(o) { return JSON.parse(JSON.stringify(o)); }

  var SINGLE = ["period", "sort", "order", "times_by", "league_by", "rank_by"];
  var LABELS = { district: "m_district", category: "m_category", channel: "m_channel", unit: "m_unit" };

  function quoted(v) { return "'" + String(v).slice(0, 40) + "'"; }

  // As dashboard/profiles.py normalise_name: width-, case- and space-insensitive.
  function norm(text) { return String(text).normalize("NFKC").replace(/\s+/g, " ").trim().toLowerCase(); }

  // The page's state from the address, and what in the address could not be used, each with its
  // reason in the page's language; what could not be used takes its default.
  function readUrl(cfg) {
    var q = new URLSearchParams(window.location.search), state = copy(DEFAULTS), problems = [];
    var t = cfg.text, allowed = cfg.allowed, known = SINGLE.concat(LISTS, ["state"]), seen = {};
    q.forEach(function (v, k) {
      if (known.indexOf(k) < 0 && !seen[k]) { problems.push(fill(t.m_bad_unknown, { name: quoted(k) })); }
      seen[k] = true;
    });
    SINGLE.forEach(function (k) {
      var values = q.getAll(k).filter(function (v) { return v !== ""; });
      if (values.length > 1) { problems.push(fill(t.m_bad_one, { name: k })); return; }
      if (!values.length) { return; }
      if (allowed[k].indexOf(values[0]) < 0) {
        problems.push(fill(t.m_bad_value, { name: k, value: quoted(values[0]), allowed: allowed[k].join(", ") }));
        return;
      }
      state[k] = values[0];
    });
    LISTS.forEach(function (k) {
      var name = t[LABELS[k]];
      state[k] = [];
      q.getAll(k).forEach(function (v) {
        if (v.length > cfg.max_chars) { problems.push(fill(t.m_bad_long, { name: name, n: cfg.max_chars })); return; }
        if (k === "district" && v !== "") {
          var id = cfg.districts[norm(v)];
          if (id === undefined) {
            problems.push(fill(t.m_bad_district, { value: quoted(v), allowed: cfg.district_ids.join(", ") }));
            return;
          }
          v = id;
        }
        if (state[k].indexOf(v) < 0) { state[k].push(v); }
      });
      if (state[k].length > cfg.max_values) {
        problems.push(fill(t.m_bad_many, { name: name, n: cfg.max_values }));
        state[k] = state[k].slice(0, cfg.max_values);
      }
    });
    if (q.has("state")) {
      var given = [], chosen = [];
      q.getAll("state").forEach(function (v) {
        v.split(",").forEach(function (s) { if (s) { given.push(s); } });
      });
      given.forEach(function (s) {
        if (allowed.state.indexOf(s) < 0) {
          problems.push(fill(t.m_bad_value, { name: "state", value: quoted(s), allowed: allowed.state.join(", ") }));
        } else if (chosen.indexOf(s) < 0) { chosen.push(s); }
      });
      // "state=" asks for none; states that were all mistakes leave the default.
      if (chosen.length || !given.length) { state.state = chosen; }
    }
    return { state: state, problems: problems };
  }

  function query(state) {
    var q = new URLSearchParams();
    ["period", "sort", "order", "times_by", "league_by", "rank_by"].forEach(function (k) {
      if (state[k] !== DEFAULTS[k]) { q.append(k, state[k]); }
    });
    LISTS.forEach(function (k) { (state[k] || []).forEach(function (v) { q.append(k, v); }); });
    if (state.state.join(",") !== DEFAULTS.state.join(",")) {
      if (state.state.length) { state.state.forEach(function (s) { q.append("state", s); }); }
      else { q.append("state", ""); }
    }
    return q.toString();
  }

  function writeUrl(state) {
    var text = query(state);
    var url = window.location.pathname + (text ? "?" + text : "");
    if (url !== window.location.pathname + window.location.search) {
      window.history.replaceState(null, "", url);
    }
  }

  function setProps(id, props) { window.dash_clientside.set_props(id, props); }

  // -- the clock and the countdowns -------------------------------------------------------------

  var shared = window.civicwallPages;
  var clockText = shared.clockText, fill = shared.fill;

  function two(n) { return (n < 10 ? "0" : "") + n; }

  // Time left as h:mm:ss (days first when more than one), an overrun as "over by ..." in the
  // page's words.
  function left(seconds, t) {
    var over = seconds < 0, s = Math.floor(Math.abs(seconds));
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    var text = (d ? d + "d " : "") + (d ? two(h) : h) + ":" + two(m) + ":" + two(s % 60);
    return over ? fill(t.m_overrun, { d: text }) : text;
  }

  function serverNow() {
    var st = page.status;
    if (!st) { return null; }
    // The server read its clock (as_of) when the request reached it, before computing the answer:
    // count from when the request was sent, so a slow answer does not set the countdowns behind.
    return st.as_of_ts + (Date.now() / 1000 - page.sentAt) * (st.rate || 0);
  }

  function tick() {
    var cfg = page.cfg;
    if (!cfg) { return; }
    var t = cfg.text, now = serverNow(), text, cls;
    if (page.failedAt === null && page.refused) {
      text = t.m_refused;                  // the server answered: the address is what is wrong
      cls = "freshness is-stale";
    } else {
      var line = shared.freshness(page, t, cfg.tz);
      text = line.text;
      cls = line.cls;
    }
    var fresh = document.getElementById(cfg.ids.freshness);
    if (fresh && fresh.textContent !== text) { setProps(cfg.ids.freshness, { children: text, className: cls }); }
    if (now !== null) {
      // During a replay the clock is the replayed data's, and says so.
      var clock = document.getElementById(cfg.ids.clock), shown = clockText(now, cfg.tz);
      if (page.status.mode === "replay") { shown = t.replay + " " + shown; }
      if (clock && clock.textContent !== shown) { setProps(cfg.ids.clock, { children: shown }); }
      var cells = document.querySelectorAll(".m-countdown[data-deadline]");
      for (var i = 0; i < cells.length; i++) {
        var rest = Number(cells[i].getAttribute("data-deadline")) - now;
        // Written as the cell's text (read aloud, copied, found), which React never sets: the span
        // is rendered without children.
        var text = left(rest, t);
        if (cells[i].textContent !== text) { cells[i].textContent = text; }
        cells[i].classList.toggle("is-over", rest < 0);
      }
    }
  }

  // -- fetching ---------------------------------------------------------------------------------

  // The column the list is sorted by shows it, and which way.
  function markSort(state) {
    SORTS.forEach(function (k) {
      var cls = "m-sort" + (state.sort === k ? " is-" + state.order : "");
      var el = document.getElementById("m-sort-" + k);
      if (el && el.className !== cls) { setProps("m-sort-" + k, { className: cls }); }
    });
  }

  function apply(answer, sentAt) {
    shared.applyPanels(answer.panels, page.shown);
    page.status = answer.status;
    page.arrived = Date.now() / 1000;
    page.sentAt = sentAt;
    page.failedAt = null;
    page.refused = false;
    page.unheld = answer.status.unheld;
    showError(null);
    markSort(page.state);
    // The rows are drawn by React after set_props; write their countdowns as soon as they are there.
    window.setTimeout(tick, 30);
    window.requestAnimationFrame(tick);
  }

  // The red line: the server's refusal of the view, else what the address asked for that could not
  // be shown (until the view is changed).
  function showError(message) {
    var cfg = page.cfg;
    page.serverError = message;
    var notes = [];
    if (page.problems.length) { notes.push(fill(cfg.text.m_bad_address, { message: page.problems.join("; ") })); }
    var unheld = {};
    (page.unheld || []).forEach(function (u) { (unheld[u[0]] = unheld[u[0]] || []).push(quoted(u[1])); });
    Object.keys(unheld).forEach(function (name) {
      var values = unheld[name], shown = values.slice(0, 3).join(", ");
      if (values.length > 3) { shown += " … (+" + (values.length - 3) + ")"; }
      notes.push(fill(cfg.text.m_unheld, { name: cfg.text[LABELS[name]], value: shown }));
    });
    var text = message !== null ? message : (notes.length ? notes.join(" · ") : null);
    if (text === page.errorShown) { return; }
    page.errorShown = text;
    setProps(cfg.ids.error, text === null ? { children: "", style: { display: "none" } }
                                          : { children: text, style: {} });
  }

  function refresh() {
    var cfg = page.cfg;
    if (!cfg || !page.state) { return; }
    if (page.inflight) { return; }          // one request at a time; the next tick tries again
    var seq = ++page.seq, text = query(page.state);
    var xhr = new XMLHttpRequest();
    page.inflight = xhr;
    xhr.open("GET", cfg.feed_url + (text ? "?" + text : ""));
    xhr.timeout = Math.max(10000, cfg.refresh_ms * 2);
    xhr.onload = function () {
      page.inflight = null;
      if (seq < page.applied) { return; }
      var answer = null;
      try { answer = JSON.parse(xhr.responseText); } catch (e) { answer = null; }
      if (xhr.status === 400 && answer) {
        page.applied = seq;
        page.refused = true;
        showError(fill(cfg.text.m_error, { message: answer.message }));
        tick();
        return;
      }
      // Signed out meanwhile (or the user was removed): the page itself leads to the sign-in form.
      if (xhr.status === 401) { window.location.reload(); return; }
      if (xhr.status !== 200 || !answer) { failed("server"); return; }
      page.applied = seq;
      if (answer.error === "store_unavailable") { failed("store"); return; }
      apply(answer, sentAt);
    };
    xhr.onerror = xhr.ontimeout = function () { page.inflight = null; failed("server"); };
    var sentAt = Date.now() / 1000;
    xhr.send();
  }

  function failed(cause) {
    if (page.failedAt === null) { page.failedAt = Date.now(); }
    page.failedCause = cause;
    tick();
  }

  // A change of the state while a request is on its way: let that answer be dropped, ask anew.
  function restart() {
    if (page.inflight) { page.inflight.abort(); page.inflight = null; }
    page.applied = page.seq + 1;
    refresh();
  }

  // -- what Dash calls --------------------------------------------------------------------------

  function controls(state) {
    return [state.period, state.district, state.category, state.channel, state.unit, state.state,
            state.times_by, state.league_by, state.rank_by];
  }

  function start(cfg) {
    if (!cfg || page.cfg) { return; }
    page.cfg = cfg;
    var read = readUrl(cfg);
    page.state = read.state;
    page.problems = read.problems;
    var ids = ["m-period", "m-district", "m-category", "m-channel", "m-unit", "m-states", "m-times-by",
               "m-league-by", "m-rank-by"];
    var values = controls(page.state);
    for (var i = 0; i < ids.length; i++) {
      var v = {};
      v.value = values[i];
      // A filter value from the URL that is not among the options yet still shows as chosen.
      if (i >= 1 && i <= 4 && values[i].length) {
        v.options = values[i].map(function (x) { return { label: x, value: x }; });
      }
      setProps(ids[i], v);
    }
    if (page.problems.length) { showError(null); }
    tick();
    refresh();
    window.setInterval(tick, 1000);
    window.setInterval(refresh, cfg.refresh_ms);
  }

  function changed(period, district, category, channel, unit, states, timesBy, leagueBy, rankBy) {
    if (!page.cfg) { return; }
    var ctx = window.dash_clientside.callback_context, next = copy(page.state);
    next.period = period || DEFAULTS.period;
    next.district = district || [];
    next.category = category || [];
    next.channel = channel || [];
    next.unit = unit || [];
    next.state = states || [];
    next.times_by = timesBy || DEFAULTS.times_by;
    next.league_by = leagueBy || DEFAULTS.league_by;
    next.rank_by = rankBy || DEFAULTS.rank_by;
    (ctx.triggered || []).forEach(function (t) {
      var m = /^m-sort-(\w+)\.n_clicks$/.exec(t.prop_id);
      if (m && SORTS.indexOf(m[1]) >= 0 && t.value) {
        // The same column again turns the order round; a new column starts ascending.
        next.order = next.sort === m[1] && next.order === "asc" ? "desc" : "asc";
        next.sort = m[1];
      }
    });
    if (JSON.stringify(next) === JSON.stringify(page.state)) { return; }
    page.state = next;
    if (page.problems.length) { page.problems = []; showError(page.serverError); }
    writeUrl(next);
    restart();
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    civicwall_manager: { start: start, changed: changed }
  });
})();
