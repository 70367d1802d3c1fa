/* New appeals flash in the ticker. The ticker's rows are replaced by the wall's updates (wall.js);
 * this watches them and marks a row "is-new" for FLASH_MS after its content first appears, so an
 * operator glancing at the wall sees what just arrived. The first rows after the page loads are not
 * new. A row is known by its text, so a row that only moved down is not flagged again, and a DOM node
 * that now holds another row loses the mark.
 */
(function () {
  "use strict";

  var FLASH_MS = 4000;
  var SEEN_MAX = 2000;      // texts remembered; then only the rows on screen are (bounded over weeks)
  var seen = null;          // texts of the rows shown so far (null until the first rows arrive)
  var seenCount = 0;
  var fresh = {};           // text -> time its flash ends
  var ticker = null;

  function mark() {
    var now = Date.now(), rows = ticker.querySelectorAll(".ticker-row");
    if (!rows.length) { return; }
    for (var key in fresh) { if (fresh[key] <= now) { delete fresh[key]; } }
    // On the first rows, and when the memory is started afresh, what is on screen is not new.
    var quiet = seen === null || seenCount > SEEN_MAX;
    if (quiet) { seen = {}; seenCount = 0; }
    for (var i = 0; i < rows.length; i++) {
      var text = rows[i].textContent;
      if (!seen[text]) {
        seen[text] = true;
        seenCount += 1;
        if (!quiet) { fresh[text] = now + FLASH_MS; }
      }
      rows[i].classList.toggle("is-new", !!fresh[text]);
    }
  }

  // Once a second: find the ticker (React renders it after this script runs, and may replace it),
  // and end flashes on a quiet wall. Changes to its rows are marked at once.
  setInterval(function () {
    var found = document.getElementById("wall-ticker");
    if (found && found !== ticker) {
      ticker = found;
      new MutationObserver(mark).observe(ticker, { childList: true, subtree: true, characterData: true });
    }
    if (ticker) { mark(); }
  }, 1000);
})();
