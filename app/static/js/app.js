// ScleroCare page script: service worker, double-submit guard, offline queue and banner,
// install prompt, and tidying up on sign-out. Plain JS, no framework, no inline script.
"use strict";
(function () {
  var PAGES_CACHE = "sclerocare-pages";
  var THUMBS_CACHE = "sclerocare-thumbs";
  // Forms that may be saved on the phone while offline and sent later. Each is safe to
  // send twice: ticks send the wanted state, check-ins carry a client key.
  // "Got it" on the clinic's messages (Today) is kept too: it only moves a "seen" mark.
  var QUEUEABLE = /^\/patient\/(tasks\/[^/]+|checklist\/[^/]+|checkin|messages\/seen)$/;

  // The words this script and the others show, in the reader's language: base.html
  // renders their translations as JSON (app/js_messages.py; only where the reader's
  // language says them otherwise), keyed by the English text each script writes. A
  // missing one stays in English. %(name)s is filled in from vars.
  var WORDS = (function () {
    var el = document.getElementById("sc-i18n");
    try { return el ? JSON.parse(el.textContent) : {}; } catch (e) { return {}; }
  })();
  window.scT = function (text, vars) {
    var said = Object.prototype.hasOwnProperty.call(WORDS, text) ? WORDS[text] : text;
    return said.replace(/%\((\w+)\)s/g, function (all, name) {
      return vars && Object.prototype.hasOwnProperty.call(vars, name) ? String(vars[name]) : all;
    });
  };
  var t = window.scT;

  function meta(name) {
    var m = document.querySelector('meta[name="' + name + '"]');
    return m ? m.getAttribute("content") : null;
  }
  var user = meta("sc-user");
  var queueKey = user ? "sc-queue-" + user : null;

  // Registered after load so it never competes with first paint (start.js does the same
  // before sign-in). Someone is signed in here: the worker may now cache the patient's
  // scripts for offline use, which it does not do for the sign-in page (issue 22).
  if ("serviceWorker" in navigator) {
    window.addEventListener("load", function () {
      navigator.serviceWorker.register("/sw.js", { scope: "/" }).then(function () {
        return navigator.serviceWorker.ready;
      }).then(function (reg) {
        if (user && reg.active) { reg.active.postMessage({ type: "precache-patient" }); }
      }).catch(function () {});
    });
  }

  // The pages and photo thumbnails kept for the person signed in (sw.js forgetPages).
  // The worker is told too, so a download it has on the way is not kept after this.
  function purgePages() {
    if (window.caches) {
      caches.delete(PAGES_CACHE).catch(function () {});
      caches.delete(THUMBS_CACHE).catch(function () {});
    }
    var worker = "serviceWorker" in navigator ? navigator.serviceWorker.controller : null;
    if (worker) { worker.postMessage({ type: "purge-pages" }); }
  }

  // Another person signed in on this phone: forget the pages kept for the last one.
  if (user) {
    try {
      var previous = localStorage.getItem("sc-user");
      if (previous && previous !== user) { purgePages(); }
      localStorage.setItem("sc-user", user);
    } catch (e) { /* storage may be off; nothing was kept then either */ }
  }

  // ---------------------------------------------------------------- status line
  function status(text, kind) {
    var main = document.getElementById("main");
    if (!main) { return; }
    var box = document.getElementById("sc-status");
    if (!box) {
      box = document.createElement("p");
      box.id = "sc-status";
      box.setAttribute("role", "status");
      // On the emergency screen nothing goes above the emergency number and call button.
      if (document.querySelector(".emergency-screen")) { main.appendChild(box); } else { main.insertBefore(box, main.firstChild); }
    }
    box.className = "flash " + (kind ? "flash-" + kind : "");
    box.textContent = text;
  }

  // A page read from the phone's copy (marked by the service worker) says so, and how
  // old it is; so does any page once the connection drops.
  var generated = meta("sc-generated");
  // Dates follow the clinic's format and the patient's time zone, which the server
  // renders on the sc-generated meta (issue 19 point 4), never the phone's own locale:
  // a US phone must not turn 7 December into 12/7. Day, short month, 24-hour time.
  var genMeta = document.querySelector('meta[name="sc-generated"]');
  var dateLocale = (genMeta && genMeta.getAttribute("data-locale")) || "en-GB";
  var dateZone = (genMeta && genMeta.getAttribute("data-tz")) || undefined;
  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  var WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  function two(n) { return (n < 10 ? "0" : "") + n; }
  function clinicDate(d) {
    try {
      return new Intl.DateTimeFormat(dateLocale, {
        weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
        hourCycle: "h23", timeZone: dateZone
      }).format(d);
    } catch (e) {
      // An unknown locale or zone: the same day-month order by hand, in the phone's zone.
      return WEEKDAYS[d.getDay()] + " " + d.getDate() + " " + MONTHS[d.getMonth()] + ", " +
        two(d.getHours()) + ":" + two(d.getMinutes());
    }
  }
  function offlineBanner() {
    var copy = document.documentElement.getAttribute("data-offline-copy") === "1";
    if (!copy && navigator.onLine !== false) { return; }
    // The words and the date come from the server (base.html), in the reader's language,
    // the clinic's date style and the reader's zone, never the phone's locale (issue 19).
    var text = meta("sc-offline") || t("You are offline.");
    if (generated && !isNaN(Date.parse(generated))) {
      text = meta("sc-offline-copy") || t("Offline copy, last updated %(when)s.", { when: clinicDate(new Date(generated)) });
    }
    status(text + " " + (meta("sc-offline-saved") || t("Ticks and check-ins are saved on this phone and sent when you are online.")), "info");
  }
  offlineBanner();
  window.addEventListener("offline", offlineBanner);

  // ---------------------------------------------------------------- ended instructions
  // Today marks each time-bound instruction with the instant it ends (data-until). A page
  // left open on the phone, or read from its offline copy, hides those whose end has
  // passed, so a finished task is never shown as something to do (issue 14 point 2).
  // What replaces it then (data-from, drawn hidden) shows from that instant: the urgent
  // advice stops naming a stocking once the stockings have come off.
  // The phone's clock may be wrong, so "now" is the server's: the page says when it was
  // made (sc-generated); a page fresh from the server measures the phone's offset and
  // keeps it for the offline copies read later.
  var SKEW_KEY = "sc-clock-skew";
  var skew = 0;
  var isCopy = document.documentElement.getAttribute("data-offline-copy") === "1";
  if (generated && !isCopy && !isNaN(Date.parse(generated))) {
    skew = Date.now() - Date.parse(generated);
    try { localStorage.setItem(SKEW_KEY, String(skew)); } catch (e) { /* private mode */ }
  } else {
    try { skew = Number(localStorage.getItem(SKEW_KEY)) || 0; } catch (e) { skew = 0; }
  }
  function hideEnded() {
    var now = Date.now() - skew;
    Array.prototype.forEach.call(document.querySelectorAll("[data-until]"), function (el) {
      var end = Date.parse(el.getAttribute("data-until"));
      if (!isNaN(end) && now >= end) { el.hidden = true; }
    });
    Array.prototype.forEach.call(document.querySelectorAll("[data-from]"), function (el) {
      var start = Date.parse(el.getAttribute("data-from"));
      if (!isNaN(start) && now >= start) { el.hidden = false; }
    });
  }
  hideEnded();
  setInterval(hideEnded, 60000);

  // ---------------------------------------------------------------- offline queue
  function readQueue() {
    if (!queueKey) { return []; }
    try { return JSON.parse(localStorage.getItem(queueKey) || "[]"); } catch (e) { return []; }
  }
  function writeQueue(items) {
    if (!queueKey) { return; }
    try { localStorage.setItem(queueKey, JSON.stringify(items)); } catch (e) { /* full or off */ }
  }

  // Returns true when a photo had to be left out: files cannot be kept in this queue.
  function enqueue(form) {
    var data = new URLSearchParams();
    var photoLeftOut = false;
    new FormData(form).forEach(function (value, name) {
      if (typeof value === "string") { data.append(name, value); } else if (value && value.size) { photoLeftOut = true; }
    });
    var path = new URL(form.action, location.href).pathname;
    var items = readQueue();
    // A later tick of the same thing replaces the earlier one: only the last state counts.
    // The same task on another day is another thing (offline past midnight): kept.
    var day = data.get("day");
    items = items.filter(function (it) {
      return it.path !== path || path === "/patient/checkin" || new URLSearchParams(it.body).get("day") !== day;
    });
    items.push({ path: path, body: data.toString(), at: new Date().toISOString() });
    writeQueue(items);
    return photoLeftOut;
  }

  // Draws a tick as ``done`` (true/false); ``pending`` adds the note that it is kept on
  // this phone until it can be sent.
  function drawTick(form, done, pending) {
    var next = form.querySelector('input[name="done"]');
    var button = form.querySelector("button.tick");
    if (!next || !button) { return; }
    button.setAttribute("aria-pressed", done ? "true" : "false");
    var mark = button.querySelector('[aria-hidden="true"]');
    if (mark) { mark.textContent = done ? "✓" : ""; }
    var label = button.querySelector(".sr");
    if (label) { label.textContent = done ? t("Done") : t("Mark as done"); }
    var row = form.closest("li");
    if (row) {
      row.classList.toggle("done", done);
      var note = row.querySelector(".pending-note");
      if (pending && !note) {
        note = document.createElement("p");
        note.className = "pending-note muted";
        (row.querySelector("div") || row).appendChild(note);
      }
      if (note) {
        if (pending) { note.textContent = t("Saved on this phone, will send when online."); } else { note.remove(); }
      }
    }
    next.value = done ? "0" : "1";  // the next tap asks for the other state
  }

  function showTickLocally(form) {
    var next = form.querySelector('input[name="done"]');
    if (next) { drawTick(form, next.value === "1", true); }
  }

  // The tick forms of this page that a queued entry is for: same path, and for a daily
  // task the same day (the entry of yesterday's tick is not today's).
  function formsFor(item) {
    var body = new URLSearchParams(item.body);
    return Array.prototype.filter.call(document.querySelectorAll("form"), function (form) {
      if (!form.querySelector("button.tick") || !form.getAttribute("action")) { return false; }
      if (new URL(form.action, location.href).pathname !== item.path) { return false; }
      var day = form.querySelector('input[name="day"]');
      return !day || !body.has("day") || day.value === body.get("day");
    });
  }

  // A page rebuilt from the phone's copy (or from the server before the queue is sent)
  // shows what the patient ticked and is still waiting on this phone (issue 19 point 5):
  // the kept copy predates the tick, so without this the tick seemed lost.
  function drawQueued() {
    readQueue().forEach(function (item) {
      if (item.path === "/patient/checkin") { return; }
      var done = new URLSearchParams(item.body).get("done") === "1";
      formsFor(item).forEach(function (form) { drawTick(form, done, true); });
    });
  }
  drawQueued();

  var replaying = false;
  function replay() {
    var items = readQueue();
    if (replaying || !items.length || navigator.onLine === false) { return; }
    var token = meta("csrf-token");
    if (!token) { return; }
    replaying = true;
    var item = items[0];
    var body = new URLSearchParams(item.body);
    body.set("csrf_token", token);  // the token of this page's sign-in session
    // Marked as a replay: a check-in that meets the sign-in page stays in this queue, so
    // the server must not also hold it for after signing in (app/patient/held.py).
    fetch(item.path, { method: "POST", body: body, credentials: "same-origin", headers: { "X-Sclero-Replay": "1" } })
      .then(function (response) {
        // Signed out by the server meanwhile (the sign-in or PIN page says so in a
        // header): the kept pages go, the unsent entries stay for after signing in.
        var path = new URL(response.url).pathname;
        if (response.headers.get("X-Sclero-Signed-Out") === "1" || path === "/login" || path === "/login/pin") {
          purgePages();
          status(t("Please sign in to send what you saved on this phone. Nothing is lost."), "error");
          throw new Error("signed out");
        }
        if (response.status >= 500) { throw new Error("server"); }
        if (response.headers.get("X-Sclero-Form-Expired") === "1") {
          // This page's form token is no longer valid (signed in again elsewhere): the
          // entry was not read, so it stays for the next page's token.
          status(t("Please reload this page to send what you saved on this phone. Nothing is lost."), "error");
          throw new Error("form expired");
        }
        writeQueue(readQueue().slice(1));
        formsFor(item).forEach(function (form) {
          var note = form.closest("li") && form.closest("li").querySelector(".pending-note");
          if (note) { note.remove(); }
        });
        return response.text().then(function (html) {
          // Show the answer to the check-in: it may be urgent advice. A refused one
          // (400: a warning-sign question unanswered) comes back as the form with the
          // answers kept and the problems marked, so it is shown too, never dropped.
          // 403: the course has ended (discharged), so nothing was saved: the page says
          // so and gives the clinic's number, rather than "everything reached the clinic".
          if (response.status === 403 || (item.path === "/patient/checkin" && (response.ok || response.status === 400))) {
            document.open();
            document.write(html);
            document.close();
            return "shown";
          }
          return "sent";
        });
      })
      .then(function (outcome) {
        replaying = false;
        if (outcome === "sent") {
          if (readQueue().length) { replay(); } else { status(t("Sent. Everything saved on this phone has reached the clinic."), "success"); }
        }
      })
      .catch(function () { replaying = false; });
  }
  window.addEventListener("online", replay);
  window.addEventListener("load", replay);

  // ---------------------------------------------------------------- submits
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (event.defaultPrevented) { return; }  // a page's own check stopped it (checkin.js)
    if (form.dataset.sending === "1") { event.preventDefault(); return; }
    var path = new URL(form.action, location.href).pathname;
    if (navigator.onLine === false && form.method.toLowerCase() === "post" && QUEUEABLE.test(path) && queueKey) {
      event.preventDefault();
      var photoLeftOut = enqueue(form);
      // The page stays: a correction sent from it is a new check-in edit, not a replay
      // of this one, so it needs its own key (else the server keeps the first answers).
      form.querySelectorAll("[data-client-key]").forEach(function (input) { input.value = newKey(); });
      // triage.js listens on the check-in form: an emergency answer shows its call screen.
      form.dispatchEvent(new CustomEvent("sc-queued", { bubbles: true }));
      showTickLocally(form);
      var hides = form.getAttribute("data-hides");
      if (hides && document.getElementById(hides)) { document.getElementById(hides).hidden = true; }
      if (path === "/patient/checkin") {
        status(t("Saved on this phone, will send when online.") +
          (photoLeftOut ? " " + t("The photo cannot be kept on the phone: please add it from Photos once you are online.") : "") +
          " " + t("If you feel unwell or have any warning sign, call the clinic or the emergency number now: do not wait."), "error");
        window.scrollTo(0, 0);
      } else {
        status(t("Saved on this phone, will send when online."), "info");
      }
      return;
    }
    // A second tap while a form is sending would post it twice; the server is
    // idempotent anyway, but this tells the patient it worked.
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

  // ---------------------------------------------------------------- reminders
  // Re-confirm this device's push subscription when the app opens (once a day per
  // tab): browsers drop subscriptions silently, and the server keeps "last confirmed".
  var confirmKey = "sc-push-confirmed";
  if (user && location.pathname.indexOf("/patient/") === 0 && !document.getElementById("push-panel") &&
      "serviceWorker" in navigator && window.Notification && Notification.permission === "granted" &&
      sessionStorage.getItem(confirmKey) !== new Date().toDateString()) {
    navigator.serviceWorker.ready.then(function (reg) {
      return reg.pushManager ? reg.pushManager.getSubscription() : null;
    }).then(function (sub) {
      if (!sub) { return null; }
      return fetch("/patient/reminders/subscribe", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": meta("csrf-token") || "" },
        body: JSON.stringify({ subscription: sub.toJSON(), reconfirm: true })
      }).then(function (r) {
        // 404: this device was turned off (from another phone's list, or another
        // person's reminders): drop the browser's copy so it stays off.
        if (r.status === 404) { return sub.unsubscribe().then(function () { return r; }); }
        return r;
      }).then(function (r) {
        if (r.ok || r.status === 404) { sessionStorage.setItem(confirmKey, new Date().toDateString()); }
      });
    }).catch(function () {});
  }

  // ---------------------------------------------------------------- iPhone guide
  // On iPhone and iPad, an app only gets reminders from the Home Screen (iOS 16.4+).
  // Today and Reminders carry the guide after their own content (_macros/push.html).
  // "Not now" hides it on this device for SNOOZE_DAYS, not for good (issue 19); on
  // Reminders a button opens it again meanwhile.
  var SNOOZE_KEY = "sc-ios-guide";
  var SNOOZE_DAYS = 14;
  var apple = /iPhone|iPad|iPod/.test(navigator.userAgent) ||
    (navigator.platform === "MacIntel" && navigator.maxTouchPoints > 1);
  var standalone = window.navigator.standalone === true ||
    (window.matchMedia && window.matchMedia("(display-mode: standalone)").matches);
  function snoozed() {
    var until = NaN;
    try { until = Number(localStorage.getItem(SNOOZE_KEY)); } catch (e) { /* off */ }
    return !isNaN(until) && until > Date.now();
  }
  function snooze(on) {
    try {
      if (on) { localStorage.setItem(SNOOZE_KEY, String(Date.now() + SNOOZE_DAYS * 86400000)); } else { localStorage.removeItem(SNOOZE_KEY); }
    } catch (e) { /* storage off: it shows again next time */ }
  }
  var guide = document.getElementById("ios-guide");
  var reopen = document.getElementById("ios-guide-open");
  if (guide && apple && !standalone) {
    guide.hidden = snoozed();
    if (reopen) { reopen.hidden = !guide.hidden; }
    document.getElementById("ios-guide-close").addEventListener("click", function () {
      guide.hidden = true;
      snooze(true);
      if (reopen) { reopen.hidden = false; reopen.focus(); }
    });
    if (reopen) {
      reopen.addEventListener("click", function () {
        snooze(false);
        guide.hidden = false;
        reopen.hidden = true;
        var title = document.getElementById("ios-guide-title");
        if (title) { title.setAttribute("tabindex", "-1"); title.focus(); }
      });
    }
  }

  // ---------------------------------------------------------------- install
  var deferredPrompt = null;
  window.addEventListener("beforeinstallprompt", function (event) {
    event.preventDefault();
    deferredPrompt = event;
    var button = document.getElementById("install-app");
    if (button) { button.hidden = false; }
  });
  document.addEventListener("click", function (event) {
    if (!event.target.closest || !event.target.closest("#install-app") || !deferredPrompt) { return; }
    deferredPrompt.prompt();
    deferredPrompt.userChoice.finally(function () {
      deferredPrompt = null;
      document.getElementById("install-app").hidden = true;
    });
  });

  // ---------------------------------------------------------------- sign-out
  // On a shared phone: drop this browser's push subscription and this person's kept
  // pages and unsent entries, so the next person sees and gets none of them.
  document.querySelectorAll("form.signout").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (form.dataset.tidied === "1") { return; }
      var pending = readQueue().length;
      if (pending && !window.confirm(pending === 1
          ? t("%(n)s entry is saved on this phone but not sent yet. Sign out and delete it?", { n: pending })
          : t("%(n)s entries are saved on this phone but not sent yet. Sign out and delete them?", { n: pending }))) {
        event.preventDefault();
        event.stopImmediatePropagation();
        return;
      }
      event.preventDefault();
      event.stopImmediatePropagation();
      form.dataset.tidied = "1";
      if (queueKey) { try { localStorage.removeItem(queueKey); localStorage.removeItem("sc-user"); } catch (e) { /* off */ } }
      purgePages();
      var done = function () { form.submit(); };
      var timer = window.setTimeout(done, 1500);
      var unsubscribe = "serviceWorker" in navigator
        ? navigator.serviceWorker.getRegistration().then(function (reg) {
            return reg && reg.pushManager ? reg.pushManager.getSubscription() : null;
          }).then(function (sub) { return sub ? sub.unsubscribe() : null; })
        : Promise.resolve();
      unsubscribe.catch(function () {}).then(function () { window.clearTimeout(timer); done(); });
    }, true);
  });

  // The diary, once drawn, marks the clinic's messages seen (Today's card then goes):
  // a POST of its hidden form, so the page's GET stays a read. Offline it is simply
  // not sent; Today's "Got it" still works then.
  var seen = document.getElementById("messages-seen");
  if (seen && window.fetch && navigator.onLine !== false) {
    fetch(seen.action, {
      method: "POST", body: new FormData(seen), credentials: "same-origin", redirect: "manual"
    }).catch(function () { /* offline or gone: the card stays until "Got it" */ });
  }
})();
