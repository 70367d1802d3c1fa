/* The newsroom page's browser side (callbacks/newsroom.py describes the feed and the mark).
 *
 * The page's state (period, districts, categories, status, search, hide taken) lives in the URL's
 * query string, as on the manager page: start() sends the address to the server, which answers with
 * the view it could make of it (what it could not use is left at its default and named, in the page's
 * language, in the red line), and the controls are set to that view; changed() runs when a reporter
 * changes a control, writes the state into the URL and fetches the feed. A timer refreshes every
 * refresh_ms, so a colleague's mark shows up within that time.
 *
 * "Take this story" / "Release" buttons are plain buttons in the story cards with data-id and
 * data-action; one click listener on the list posts the mark and refreshes at once.
 */
(function () {
  "use strict";

  var DEFAULTS = { period: "today", district: [], category: [], status: "all", q: "", hide_taken: false };
  var page = { cfg: null, state: null, seq: 0, applied: 0, inflight: null, status: null, arrived: 0,
               failedAt: null, failedCause: null, sentAt: 0, shown: {}, error: null, synced: false,
               problems: [], notes: [] };

  function setProps(id, props) { window.dash_clientside.set_props(id, props); }
  var shared = window.civicwallPages, fill = shared.fill;

  function query(state) {
    var q = new URLSearchParams();
    if (state.period !== DEFAULTS.period) { q.append("period", state.period); }
    state.district.forEach(function (v) { q.append("district", v); });
    state.category.forEach(function (v) { q.append("category", v); });
    if (state.status !== DEFAULTS.status) { q.append("status", state.status); }
    if (state.q) { q.append("q", state.q); }
    if (state.hide_taken) { q.append("hide_taken", "1"); }
    return q.toString();
  }

  function writeUrl(state) {
    var text = query(state);
    var url = window.location.pathname + (text ? "?" + text : "");
    if (url !== window.location.pathname + window.location.search) { window.history.replaceState(null, "", url); }
  }

  function tick() {
    var cfg = page.cfg, t = cfg.text, line = shared.freshness(page, t, cfg.tz), text = line.text, cls = line.cls;
    var fresh = document.getElementById(cfg.ids.freshness);
    if (fresh && fresh.textContent !== text) { setProps(cfg.ids.freshness, { children: text, className: cls }); }
    if (page.status) {
      var now = page.status.as_of_ts + (Date.now() / 1000 - page.sentAt) * (page.status.rate || 0);
      var shown = (page.status.mode === "replay" ? t.replay + " " : "") + shared.clockText(now, cfg.tz);
      var clock = document.getElementById(cfg.ids.clock);
      if (clock && clock.textContent !== shown) { setProps(cfg.ids.clock, { children: shown }); }
    }
  }

  function showError(text) {
    if (text === page.error) { return; }
    page.error = text;
    setProps(page.cfg.ids.error, text === null ? { children: "", style: { display: "none" } }
                                               : { children: text, style: {} });
  }

  // The controls show the view the server answered with: on the first answer, what the address
  // asked for minus what could not be used (named in the red line until the reporter changes
  // something).
  function sync(state) {
    page.synced = true;
    page.state = { period: state.period, district: state.district, category: state.category,
                   status: state.status, q: state.q, hide_taken: state.hide_taken };
    setProps("n-period", { value: state.period });
    setProps("n-district", { value: state.district });
    setProps("n-category", { value: state.category });
    setProps("n-status", { value: state.status });
    setProps("n-search", { value: state.q });
    setProps("n-hide-taken", { value: state.hide_taken ? ["1"] : [] });
  }

  function notes() {
    var t = page.cfg.text, lines = [];
    if (page.problems.length) { lines.push(fill(t.m_bad_address, { message: page.problems.join("; ") })); }
    lines = lines.concat(page.notes);
    return lines.length ? lines.join(" · ") : null;
  }

  function apply(answer, sentAt) {
    shared.applyPanels(answer.panels, page.shown);
    page.status = answer.status;
    page.arrived = Date.now() / 1000;
    page.sentAt = sentAt;
    page.failedAt = null;
    if (!page.synced) {
      page.problems = answer.status.problems || [];
      sync(answer.status.state);
    }
    page.notes = answer.status.notes || [];
    showError(notes());
    tick();
  }

  function failed(cause) {
    if (page.failedAt === null) { page.failedAt = Date.now(); }
    page.failedCause = cause;
    tick();
  }

  function refresh() {
    var cfg = page.cfg;
    if (!cfg || page.inflight) { return; }
    // Until the first answer, the address as it is; then the view shown.
    var seq = ++page.seq, sentAt = Date.now() / 1000;
    var text = page.synced ? query(page.state) : window.location.search.replace(/^\?/, "");
    var xhr = new XMLHttpRequest();
    page.inflight = xhr;
    xhr.open("GET", cfg.feed_url + (text ? "?" + text : ""));
    xhr.setRequestHeader("X-Requested-With", "civicwall");
    xhr.timeout = Math.max(10000, cfg.refresh_ms * 2);
    xhr.onload = function () {
      page.inflight = null;
      if (seq < page.applied) { return; }
      var answer = null;
      try { answer = JSON.parse(xhr.responseText); } catch (e) { answer = null; }
      if (xhr.status === 401 || xhr.status === 403) { window.location.reload(); return; }
      if (xhr.status === 400 && answer) {
        page.applied = seq;
        page.failedAt = null;
        showError(fill(cfg.text.m_error, { message: answer.message }));
        return;
      }
      if (xhr.status !== 200 || !answer) { failed("server"); return; }
      page.applied = seq;
      if (answer.error === "store_unavailable") { failed("store"); return; }
      apply(answer, sentAt);
    };
    xhr.onerror = xhr.ontimeout = function () { page.inflight = null; failed("server"); };
    xhr.send();
  }

  function restart() {
    if (page.inflight) { page.inflight.abort(); page.inflight = null; }
    page.applied = page.seq + 1;
    refresh();
  }

  function mark(button) {
    var cfg = page.cfg, xhr = new XMLHttpRequest();
    button.disabled = true;
    xhr.open("POST", cfg.action_url);
    xhr.setRequestHeader("Content-Type", "application/json");
    xhr.setRequestHeader("X-Requested-With", "civicwall");
    xhr.onload = function () {
      if (xhr.status === 401) { window.location.reload(); return; }
      if (xhr.status !== 200) {
        var answer = null;
        try { answer = JSON.parse(xhr.responseText); } catch (e) { answer = null; }
        showError(fill(cfg.text.n_take_failed, { message: answer && answer.message ? answer.message : xhr.status }));
      }
      restart();
    };
    xhr.onerror = function () { button.disabled = false; failed("server"); };
    xhr.send(JSON.stringify({ id: button.getAttribute("data-id"), action: button.getAttribute("data-action") }));
  }

  function start(cfg) {
    if (!cfg || page.cfg) { return; }
    page.cfg = cfg;
    document.addEventListener("click", function (e) {
      var button = e.target.closest ? e.target.closest("button[data-action]") : null;
      if (button && document.getElementById(cfg.ids.list).contains(button)) { mark(button); }
    });
    tick();
    refresh();
    window.setInterval(tick, 1000);
    window.setInterval(refresh, cfg.refresh_ms);
  }

  var KEYS = { "n-period": "period", "n-district": "district", "n-category": "category", "n-status": "status",
               "n-search": "q", "n-hide-taken": "hide_taken" };

  function changed(period, district, category, status, q, hide) {
    if (!page.cfg || !page.synced) { return; }      // before the first answer the controls are not the page's
    var given = { period: period || DEFAULTS.period, district: district || [], category: category || [],
                  status: status || DEFAULTS.status, q: (q || "").trim(), hide_taken: (hide || []).indexOf("1") >= 0 };
    // Only the control that fired counts: when sync() sets them all, each fires with the others not
    // yet set, and a control that only echoes the state back changes nothing.
    var next = JSON.parse(JSON.stringify(page.state)), moved = false;
    (window.dash_clientside.callback_context.triggered || []).forEach(function (t) {
      var key = KEYS[t.prop_id.split(".")[0]];
      if (key && JSON.stringify(given[key]) !== JSON.stringify(next[key])) { next[key] = given[key]; moved = true; }
    });
    if (!moved) { return; }
    page.state = next;
    page.problems = [];
    showError(notes());
    writeUrl(next);
    restart();
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    civicwall_newsroom: { start: start, changed: changed }
  });
})();
