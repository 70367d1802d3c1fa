/* New appeals flash in the ticker. The ticker's rows are replaced by the wall's updates (wall.js);
 * this watches them and marks a row "is-new" for FLASH_MS after its content first appears, so an
 * operator glancing at the wall sees what just arrived. The first rows after the page loads are not
 * new. A row is known by its text, so a row that only moved down is not flagged again, and a DOM node
 * that now holds another row loses the mark.
 */
(function () {
  "use strict";

  var FLASH_MS = 4000;
  var seen = null;          // texts of the rows shown so far (null until the first rows arrive)
  var fresh = {};           // text -> time its flash ends
  var ticker = null;

  function mark() {
    var now = Date.now(), rows = ticker.querySelectorAll(".ticker-row"), current = {};
    for (var key in fresh) { if (fresh[key] <= now) { delete fresh[key]; } }
    for (var i = 0; i < rows.length; i++) {
      var text = rows[i].textContent;
      current[text] = true;
      if (seen !== null && !seen[text] && !fresh[text]) { fresh[text] = now + FLASH_MS; }
      rows[i].classList.toggle("is-new", !!fresh[text]);
    }
    if (rows.length) { seen = Object.assign(seen || {}, current); }
    // Forget rows that left the ticker long ago, so the memory stays bounded over weeks.
    var names = Object.keys(seen || {});
    if (names.length > 2000) { seen = current; }
  }

  function attach() {
    var found = document.getElementById("wall-ticker");
    if (!found || found === ticker) { return; }
    ticker = found;
    new MutationObserver(mark).observe(ticker, { childList: true, subtree: true, characterData: true });
    mark();
  }

  new MutationObserver(attach).observe(document.documentElement, { childList: true, subtree: true });
  setInterval(function () { if (ticker) { mark(); } }, 1000);     // ends flashes on a quiet wall
})();
