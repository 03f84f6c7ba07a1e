// ScleroCare page script: registers the service worker and guards against double submits.
"use strict";
if ("serviceWorker" in navigator) {
  window.addEventListener("load", function () {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () {});
  });
}
// A second tap while a form is sending would post it twice; the server is idempotent
// anyway, but disabling the button tells the patient it worked.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (form.dataset.sending === "1") { event.preventDefault(); return; }
  form.dataset.sending = "1";
  window.setTimeout(function () { form.dataset.sending = ""; }, 4000);
});
// Select the invitation link on focus, so the clinician can copy it in one step.
document.addEventListener("focusin", function (event) {
  if (event.target.classList && event.target.classList.contains("copy")) { event.target.select(); }
});
// Each form load gets its own key, so a double tap or a replay is stored once.
function newKey() {
  if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
  return Date.now().toString(36) + Math.random().toString(36).slice(2);
}
document.querySelectorAll("[data-client-key]").forEach(function (input) {
  if (!input.value) { input.value = newKey(); }
});
// Signing out on a shared phone: drop this browser's push subscription too, so the
// next person to sign in here is not silently given this patient's reminders.
document.querySelectorAll("form.signout").forEach(function (form) {
  form.addEventListener("submit", function (event) {
    if (form.dataset.unsubscribed === "1" || !("serviceWorker" in navigator)) { return; }
    event.preventDefault();
    form.dataset.unsubscribed = "1";
    var done = function () { form.submit(); };
    var timer = window.setTimeout(done, 1500);
    navigator.serviceWorker.getRegistration().then(function (reg) {
      return reg && reg.pushManager ? reg.pushManager.getSubscription() : null;
    }).then(function (sub) {
      return sub ? sub.unsubscribe() : null;
    }).catch(function () {}).then(function () { window.clearTimeout(timer); done(); });
  }, true);
});
