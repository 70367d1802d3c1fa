/* What the manager and newsroom pages' scripts share (assets/manager.js, assets/newsroom.js): the
 * clock in the city's time zone, filling a template in the page's words, the freshness line, and
 * handing an answer's panels to Dash. Both pages load this file, and Dash loads assets in the order of
 * their names, so it comes before them; the wall does not load it.
 */
(function () {
  "use strict";

  var formatters = {};

  // "YYYY-MM-DD HH:MM:SS" in the time zone ``tz``.
  function clockText(seconds, tz) {
    if (!formatters[tz]) {
      formatters[tz] = new Intl.DateTimeFormat("en-GB", { timeZone: tz, year: "numeric", month: "2-digit",
        day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
    }
    var p = {};
    formatters[tz].formatToParts(new Date(seconds * 1000)).forEach(function (x) { p[x.type] = x.value; });
    return p.year + "-" + p.month + "-" + p.day + " " + p.hour + ":" + p.minute + ":" + p.second;
  }

  function fill(template, values) {
    var out = String(template);
    Object.keys(values).forEach(function (k) { out = out.split("{" + k + "}").join(String(values[k])); });
    return out;
  }

  // The freshness line of a page whose state is ``page`` (failedAt, failedCause, status, arrived):
  // "stale since HH:MM" when its server or the store stopped answering, else how old its answer is.
  function freshness(page, t, tz) {
    if (page.failedAt !== null) {
      var since = page.status ? clockText(page.status.checked_at, tz).slice(11, 16) : null;
      var server = page.failedCause === "server";
      return { cls: "freshness is-stale",
               text: since ? fill(server ? t.server_stale_since : t.stale_since, { t: since })
                           : (server ? t.server_unreachable : t.unreachable) };
    }
    if (!page.status) { return { cls: "freshness is-missing", text: t.waiting }; }
    var age = Math.max(0, Math.floor(Date.now() / 1000 - page.arrived));
    return { cls: "freshness is-live", text: age < 2 ? t.updated_now : fill(t.updated_ago, { n: age }) };
  }

  // Only the panels that changed since the last answer are handed to Dash (``shown`` remembers what
  // each one last was): most refreshes of a quiet hour redraw nothing, however long the lists.
  function applyPanels(panels, shown) {
    Object.keys(panels).forEach(function (name) {
      var text = JSON.stringify(panels[name]);
      if (shown[name] === text) { return; }
      shown[name] = text;
      var dot = name.lastIndexOf("."), props = {};
      props[name.slice(dot + 1)] = panels[name];
      window.dash_clientside.set_props(name.slice(0, dot), props);
    });
  }

  window.civicwallPages = { clockText: clockText, fill: fill, freshness: freshness, applyPanels: applyPanels };
})();
