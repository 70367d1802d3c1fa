/* The wall's fixed canvas: the page is laid out once at 1920x1080 CSS pixels and scaled as a whole to
 * the largest size that fits the window, centred. So a 1366x768 office screen, a 4K panel and a Full HD
 * screen at 150 % display scaling all show the same picture, with no scrollbars and nothing clipped.
 * The scale is set as CSS variables on <html> (read by .wall in wall.css) before the first paint and
 * again whenever the window changes size.
 *
 * Kiosk mode: ?kiosk=1 (or ?kiosk) in the URL marks <html> with the class "kiosk", which hides
 * everything that is not the display (the map's category picker, with its focus target) and the mouse pointer.
 */
(function () {
  "use strict";

  var WIDTH = 1920, HEIGHT = 1080;
  var root = document.documentElement;

  function fit() {
    var w = window.innerWidth, h = window.innerHeight;
    if (!w || !h) { return; }
    var scale = Math.min(w / WIDTH, h / HEIGHT);
    root.style.setProperty("--cw-scale", String(scale));
    root.style.setProperty("--cw-x", ((w - WIDTH * scale) / 2) + "px");
    root.style.setProperty("--cw-y", ((h - HEIGHT * scale) / 2) + "px");
  }

  var kiosk = new URLSearchParams(window.location.search).get("kiosk");
  if (kiosk !== null && kiosk !== "0" && kiosk.toLowerCase() !== "false") {
    root.classList.add("kiosk");
  }
  fit();
  window.addEventListener("resize", fit);
})();
