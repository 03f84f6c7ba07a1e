// ScleroCare reminders: turn web push on or off for this device (reminders page).
//
// Safe on any page: without #push-panel it does nothing at all. On the reminders page
// it decides what this device can do, re-confirms an existing subscription with the
// server every time the page opens, and wires the two buttons. No inline script is
// needed (CSP script-src 'self'): everything it needs is in #push-panel's data-*.
"use strict";
// The page's words in the reader's language (base.html's sc-i18n, read by app.js); as
// written here, in English, when there is no translation.
function t(text, vars) { return window.scT ? window.scT(text, vars) : text; }
(function () {
  var panel = document.getElementById("push-panel");
  if (!panel) { return; }

  var statusEl = document.getElementById("push-status");
  var onBtn = document.getElementById("push-on");
  var offBtn = document.getElementById("push-off");
  var iosGuide = document.getElementById("ios-install");
  var cfg = {
    key: panel.dataset.key || "",
    subscribeUrl: panel.dataset.subscribeUrl,
    unsubscribeUrl: panel.dataset.unsubscribeUrl,
    csrf: panel.dataset.csrf || ""
  };
  // Set when the patient turns reminders off here, so a later visit does not quietly
  // subscribe again just because the browser still has notification permission.
  var OPT_OUT = "sclerocare-push-off";

  var TEXT = {
    unsupported: t("This browser cannot show reminders. Your Today page still has everything you need: please open it every day."),
    iosOld: t("This iPhone or iPad cannot show reminders yet. Update to iOS 16.4 or later, then open ScleroCare from your Home Screen."),
    iosInstall: t("On iPhone and iPad, reminders only work once ScleroCare is on your Home Screen. Here is how."),
    blocked: t("Reminders are blocked for ScleroCare in this browser's settings. To allow them, open the browser's settings for this site, set Notifications to Allow, then reload this page."),
    dismissed: t("Reminders were not allowed. Tap Turn on reminders to try again."),
    off: t("Reminders are off on this device."),
    on: t("Reminders are on for this device."),
    turningOn: t("Turning on reminders…"),
    turningOff: t("Turning off reminders…"),
    offDone: t("Reminders are off on this device. You can turn them on again at any time."),
    noServer: t("Could not reach ScleroCare. Check your internet connection and try again."),
    signIn: t("Your sign-in has ended. Please reload the page, sign in and try again."),
    expired: t("This page was open too long. Please reload it and try again."),
    slow: t("this browser's notification service did not answer. Please try again later."),
    generic: t("Something went wrong. Please reload the page and try again.")
  };

  function say(text) { statusEl.textContent = text; }
  // Sets style too: app.css gives every button display:inline-block, which beats the
  // browser's own [hidden] rule.
  function show(el, visible) {
    if (el) { el.hidden = !visible; el.style.display = visible ? "" : "none"; }
  }
  function buttons(on, off) { show(onBtn, on); show(offBtn, off); }

  function optedOut() {
    try { return window.localStorage.getItem(OPT_OUT) === "1"; } catch (e) { return false; }
  }
  function setOptedOut(value) {
    try {
      if (value) { window.localStorage.setItem(OPT_OUT, "1"); } else { window.localStorage.removeItem(OPT_OUT); }
    } catch (e) { /* private mode: nothing to remember */ }
  }

  function isAppleMobile() {
    var ua = navigator.userAgent || "";
    return /iPhone|iPad|iPod/.test(ua) ||
      (navigator.platform === "MacIntel" && navigator.maxTouchPoints > 1);
  }
  function isStandalone() {
    return window.navigator.standalone === true ||
      (window.matchMedia && window.matchMedia("(display-mode: standalone)").matches);
  }
  function supported() {
    return "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
  }

  // The VAPID public key (base64url) as the bytes pushManager.subscribe() wants.
  function urlBase64ToUint8Array(text) {
    var padded = (text + "===".slice((text.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = window.atob(padded);
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { out[i] = raw.charCodeAt(i); }
    return out;
  }

  // Old Safari takes a callback; everything else returns a promise.
  function askPermission() {
    return new Promise(function (resolve) {
      var result = Notification.requestPermission(resolve);
      if (result && typeof result.then === "function") { result.then(resolve, function () { resolve("default"); }); }
    });
  }

  function registration() {
    // app.js registers the worker on load; register here too in case this runs first.
    return navigator.serviceWorker.register("/sw.js", { scope: "/" }).then(function () {
      return navigator.serviceWorker.ready;
    });
  }

  function subscribe(reg) {
    return reg.pushManager.subscribe({
      userVisibleOnly: true,
      applicationServerKey: urlBase64ToUint8Array(cfg.key)
    });
  }

  // POST JSON with the CSRF token; resolves to the server's JSON, or rejects with an
  // Error whose message is safe to show.
  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": cfg.csrf },
      body: JSON.stringify(body)
    }).then(function (response) {
      if (response.redirected) { throw new Error(TEXT.signIn); }
      return response.json().then(function (data) {
        if (!response.ok || !data || data.ok === false) {
          var error = new Error((data && data.error) || TEXT.generic);
          error.off = !!(data && data.off);  // re-confirming a device that is off
          throw error;
        }
        return data;
      }, function () {
        throw new Error(response.status === 400 ? TEXT.expired : TEXT.generic);
      });
    }, function () {
      throw new Error(TEXT.noServer);
    });
  }

  // A browser that cannot reach its push service may never settle subscribe():
  // give up after a while so the button comes back with an explanation.
  function within(promise, ms) {
    return new Promise(function (resolve, reject) {
      var timer = window.setTimeout(function () { reject(new Error(TEXT.slow)); }, ms);
      promise.then(function (value) { window.clearTimeout(timer); resolve(value); },
        function (err) { window.clearTimeout(timer); reject(err); });
    });
  }

  function saveSubscription(sub) {
    return post(cfg.subscribeUrl, { subscription: sub.toJSON() });
  }

  function showOn() { say(TEXT.on); buttons(false, true); }
  function showOff(text) { say(text || TEXT.off); buttons(true, false); }
  function showBlocked() { say(TEXT.blocked); buttons(false, false); }
  function failed(err) {
    var message = (err && err.message) || TEXT.generic;
    if (err && err.name === "NotAllowedError") { message = TEXT.blocked; }
    return message;
  }

  function turnOn() {
    // Ask first, inside the tap itself: iOS and Safari refuse a request that is not
    // the direct result of a user gesture.
    var asking = askPermission();
    onBtn.disabled = true;
    say(TEXT.turningOn);
    asking.then(function (permission) {
      if (permission === "denied") { showBlocked(); return null; }
      if (permission !== "granted") { showOff(TEXT.dismissed); return null; }
      return within(registration().then(function (reg) {
        return reg.pushManager.getSubscription().then(function (sub) { return sub || subscribe(reg); });
      }), 20000)
        .then(saveSubscription)
        .then(function () {
          setOptedOut(false);
          showOn();
          // Reload so "Devices with reminders" below lists this device.
          window.location.reload();
        });
    }).catch(function (err) {
      showOff(t("Reminders could not be turned on: %(why)s", { why: failed(err) }));
    }).then(function () { onBtn.disabled = false; });
  }

  function turnOff() {
    offBtn.disabled = true;
    say(TEXT.turningOff);
    setOptedOut(true);
    registration()
      .then(function (reg) { return reg.pushManager.getSubscription(); })
      .then(function (sub) {
        if (!sub) { return null; }
        var endpoint = sub.endpoint;
        // Browser first: if the server call then fails, the old endpoint stops working
        // and the server forgets it on the next send (404/410).
        return sub.unsubscribe().then(function () { return post(cfg.unsubscribeUrl, { endpoint: endpoint }); });
      })
      .then(function () { showOff(TEXT.offDone); window.location.reload(); })
      .catch(function (err) { say(t("Reminders could not be turned off: %(why)s", { why: failed(err) })); })
      .then(function () { offBtn.disabled = false; });
  }

  // "Turn off" next to this device in the devices list: without this, the re-confirm on
  // the next page open would add the device straight back. Rows carry the SHA-256 of
  // their endpoint (data-endpoint-sha256), so the endpoint itself is not in the page.
  function sha256Hex(value) {
    return window.crypto.subtle.digest("SHA-256", new TextEncoder().encode(value)).then(function (buf) {
      return Array.prototype.map.call(new Uint8Array(buf), function (b) {
        return ("0" + b.toString(16)).slice(-2);
      }).join("");
    });
  }
  function markThisDevice(sub) {
    var forms = document.querySelectorAll("form[data-endpoint-sha256]");
    if (!sub || !forms.length || !(window.crypto && window.crypto.subtle)) { return; }
    sha256Hex(sub.endpoint).then(function (hash) {
      Array.prototype.forEach.call(forms, function (form) {
        if (form.getAttribute("data-endpoint-sha256") === hash) { form.dataset.thisDevice = "1"; }
      });
    }, function () { /* no match: the server copy is removed, the browser keeps it */ });
  }
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.dataset || form.dataset.thisDevice !== "1") { return; }
    event.preventDefault();
    form.dataset.thisDevice = "";
    setOptedOut(true);
    registration()
      .then(function (reg) { return reg.pushManager.getSubscription(); })
      .then(function (sub) { return sub && sub.unsubscribe(); })
      .catch(function () { /* the opt-out flag still stops the re-confirm */ })
      .then(function () { form.submit(); });
  }, true);

  // Page open, permission already granted: re-confirm this browser's subscription with
  // the server. Only the "Turn on" tap creates one: a device turned off (from another
  // phone's list, or by signing out) stays off, and this browser drops its copy.
  function reconfirm() {
    registration()
      .then(function (reg) { return reg.pushManager.getSubscription(); })
      .then(function (sub) {
        if (!sub) { showOff(); return null; }
        if (optedOut()) { return sub.unsubscribe().then(function () { showOff(); }); }
        return post(cfg.subscribeUrl, { subscription: sub.toJSON(), reconfirm: true }).then(
          function () { showOn(); markThisDevice(sub); },
          function (err) {
            if (!err.off) { throw err; }
            return sub.unsubscribe().then(function () { showOff(); });
          });
      })
      .catch(function (err) { showOff(t("Reminders could not be checked: %(why)s", { why: failed(err) })); });
  }

  function start() {
    buttons(false, false);
    if (isAppleMobile() && !isStandalone()) {
      say(TEXT.iosInstall);
      buttons(false, false);
      show(iosGuide, true);
      return;
    }
    if (!supported()) {
      say(isAppleMobile() ? TEXT.iosOld : TEXT.unsupported);
      buttons(false, false);
      return;
    }
    onBtn.addEventListener("click", turnOn);
    offBtn.addEventListener("click", turnOff);
    if (Notification.permission === "denied") { showBlocked(); return; }
    if (Notification.permission === "granted") { reconfirm(); return; }
    showOff();
  }

  start();
})();
