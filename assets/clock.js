/* Wall clock and freshness text, ticking every second in the browser (no server round trip).
 *
 * The server callback stores {built_at, checked_at, state, since, mode, as_of} in wall-status on
 * every refresh. Ages are measured on the server's clock (checked_at plus the time elapsed here
 * since that status arrived) so a wall PC with a wrong clock still reports the right age.
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

  function tick(n, status, cfg) {
    var nu = window.dash_clientside.no_update;
    if (!cfg || !status) { return [nu, nu, nu, nu]; }
    var local = Date.now() / 1000;
    if (status.checked_at !== seen.checked) { seen.checked = status.checked_at; seen.at = local; }
    var now = status.checked_at ? status.checked_at + (local - seen.at) : local;
    var replay = status.mode === "replay" && status.as_of;
    var clock = replay ? status.as_of.slice(0, 19).replace("T", " ") : fullTime(now, cfg.tz);
    var t = cfg.text, state = status.state, text;
    if (state === "stale") {
      text = status.since ? fill(t.stale_since, "t", status.since) : t.unreachable;
    } else if (state === "missing" || status.built_at === null || status.built_at === undefined) {
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
    return [clock, text, "freshness is-" + state, replay ? {} : { display: "none" }];
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    civicwall: { tick: tick }
  });
})();
