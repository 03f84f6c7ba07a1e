// ScleroCare's script for pages seen before sign-in: only registers the service worker,
// after load, so it never competes with the page's first paint (issue 22 point 4). The
// worker then keeps just the offline page and this script; a patient's scripts are
// cached once someone signs in (sw.js: precachePatient).
"use strict";
if ("serviceWorker" in navigator) {
  window.addEventListener("load", function () {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () {});
  });
}
// A second tap on "Sign in" or "Send me a link" while the first is sending would post
// twice; the server copes, but one post tells the person it worked (as app.js does).
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (event.defaultPrevented) { return; }
  if (form.dataset.sending === "1") { event.preventDefault(); return; }
  form.dataset.sending = "1";
  window.setTimeout(function () { form.dataset.sending = ""; }, 4000);
});
