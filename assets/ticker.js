/* The ticker's motion: new appeals flash, and rows glide to their new places.
 *
 * The ticker's rows are replaced by the wall's updates (wall.js). React keeps the row elements and
 * changes their text, so without help a new appeal makes every row's text jump down one line at once,
 * which reads as a jitter from across a room. This script watches the rows and:
 *
 * - marks a row "is-new" for FLASH_MS after its content first appears, so an operator glancing at the
 *   wall sees what just arrived (the rows shown when the page loads are not new);
 * - slides every row whose content was already on screen from where that content was to where it is
 *   now (a FLIP animation: measure, then animate the difference back to zero), and fades a new row in,
 *   over SLIDE_MS. Only a transform and the opacity change, so the browser moves pixels and lays
 *   nothing out again.
 *
 * A row is known by its text, so a row that only moved is neither flagged nor faded again. Memory stays
 * bounded over weeks: the remembered texts are cleared when they pass SEEN_MAX (the rows then on screen
 * are taken as seen), positions are kept only for the rows on screen, and finished animations are
 * dropped by the browser.
 */
(function () {
  "use strict";

  var FLASH_MS = 4000;
  var SLIDE_MS = 700;
  var SEEN_MAX = 500;       // texts remembered; then only the rows on screen are (bounded over weeks)
  var seen = null;          // texts of the rows shown so far (null until the first rows arrive)
  var seenCount = 0;
  var fresh = {};           // text -> time its flash ends
  var places = {};          // text -> [left, top] of the row showing it, at the last look
  var ticker = null;
  var still = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  var EASE = "cubic-bezier(0.2, 0.7, 0.3, 1)";

  function glide(row, dy) {
    if (still || !row.animate) { return; }
    row.animate([{ transform: "translateY(" + dy + "px)" }, { transform: "translateY(0)" }],
                { duration: SLIDE_MS, easing: EASE });
  }

  function enter(row) {
    if (still || !row.animate) { return; }
    row.animate([{ opacity: 0, transform: "translateY(-16px)" }, { opacity: 1, transform: "translateY(0)" }],
                { duration: SLIDE_MS, easing: EASE });
  }

  // changed: the rows were just replaced (not the once-a-second look), so moves are animated.
  function mark(changed) {
    var now = Date.now(), rows = ticker.querySelectorAll(".ticker-row");
    if (!rows.length) { places = {}; return; }
    for (var key in fresh) { if (fresh[key] <= now) { delete fresh[key]; } }
    // On the first rows, and when the memory is started afresh, what is on screen is not new.
    var first = seen === null;
    var quiet = first || seenCount > SEEN_MAX;
    if (quiet) { seen = {}; seenCount = 0; }
    var next = {};
    for (var i = 0; i < rows.length; i++) {
      var row = rows[i], text = row.textContent;
      var place = [row.offsetLeft, row.offsetTop], was = places[text];
      next[text] = place;
      if (!seen[text]) {
        seen[text] = true;
        seenCount += 1;
        if (!quiet) { fresh[text] = now + FLASH_MS; }
      }
      if (changed && !first) {
        if (was && was[0] === place[0] && was[1] !== place[1]) {
          glide(row, was[1] - place[1]);
        } else if (!was && fresh[text]) {
          enter(row);
        }
      }
      row.classList.toggle("is-new", !!fresh[text]);
    }
    places = next;
  }

  // Once a second: find the ticker (React renders it after this script runs, and may replace it),
  // and end flashes on a quiet wall. Changes to its rows are handled at once.
  setInterval(function () {
    var found = document.getElementById("wall-ticker");
    if (found && found !== ticker) {
      ticker = found;
      new MutationObserver(function () { mark(true); })
        .observe(ticker, { childList: true, subtree: true, characterData: true });
    }
    if (ticker) { mark(false); }
  }, 1000);
})();
