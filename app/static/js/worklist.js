// ScleroCare dashboard: keeps the worklist current by itself (issue 19 point 1).
// Every data-poll seconds, while the tab is visible, it asks the server whether the
// worklist changed (GET data-src with since=<version>: 204 when not). On a change it
// swaps in the new counts and rows, row by row (data-key), and keeps as they are the
// rows the clinician is working in: the one holding focus and any with typed or ticked
// input (an acknowledgement note half written). The request carries X-Worklist-Poll, so
// the server does not count it as the clinician being active (idle sign-out still
// applies). Without JavaScript the page works as before; reloading shows the news.
"use strict";
(function () {
  var box = document.getElementById("worklist");
  if (!box || !window.fetch || !window.DOMParser) { return; }
  var seconds = Math.max(1, parseInt(box.getAttribute("data-poll"), 10) || 45);
  var timer = null;
  var busy = false;

  function dirty(row) {
    // A row the clinician is working in: focus inside, or a field changed from the page.
    if (row.contains(document.activeElement)) { return true; }
    var fields = row.querySelectorAll("input, textarea, select");
    for (var i = 0; i < fields.length; i++) {
      var f = fields[i];
      if (f.type === "checkbox" || f.type === "radio") {
        if (f.checked !== f.defaultChecked) { return true; }
      } else if (f.type !== "hidden" && f.value !== f.defaultValue) {
        return true;
      }
    }
    return false;
  }

  function swapRows(oldBox, fresh) {
    var oldBody = oldBox.querySelector("table.worklist tbody");
    var newBody = fresh.querySelector("table.worklist tbody");
    var kept = {};
    if (oldBody) {
      var rows = oldBody.querySelectorAll("tr[data-key]");
      for (var i = 0; i < rows.length; i++) {
        if (dirty(rows[i])) { kept[rows[i].getAttribute("data-key")] = rows[i]; }
      }
    }
    var keys = Object.keys(kept);
    if (keys.length && !newBody) {
      // Nothing left to do in the new list, but the clinician is still in a row: keep
      // the table they are using until they are done with it.
      return false;
    }
    if (newBody) {
      var fresher = newBody.querySelectorAll("tr[data-key]");
      for (var j = 0; j < fresher.length; j++) {
        var key = fresher[j].getAttribute("data-key");
        if (kept[key]) {
          newBody.replaceChild(document.adoptNode(kept[key]), fresher[j]);
          delete kept[key];
        }
      }
      // A row gone from the list (done by a colleague) stays while it is being used;
      // its form then tells the clinician what happened when sent.
      Object.keys(kept).forEach(function (k) { newBody.appendChild(kept[k]); });
    }
    return true;
  }

  function badge(count) {
    var link = document.querySelector('nav.tabs a[href="' + box.getAttribute("data-home") + '"]');
    if (!link || count === null) { return; }
    var b = link.querySelector(".badge");
    if (count === 0) { if (b) { b.remove(); } return; }
    if (!b) {
      b = document.createElement("span");
      b.className = "badge level-emergency";
      link.appendChild(document.createTextNode(" "));
      link.appendChild(b);
    }
    b.textContent = String(count);
    b.setAttribute("aria-label", count + " open alert" + (count === 1 ? "" : "s"));
  }

  function apply(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var fresh = doc.getElementById("worklist");
    if (!fresh) { return false; }
    var focusedId = document.activeElement && document.activeElement.id;
    var inRow = document.activeElement && document.activeElement.closest &&
      document.activeElement.closest("tr[data-key]");
    if (!swapRows(box, fresh)) { return true; }
    fresh = document.adoptNode(fresh);
    box.replaceWith(fresh);
    box = fresh;
    // Focus outside a kept row (a count link, say) moves to its new copy.
    if (focusedId && !inRow && document.activeElement === document.body) {
      var again = document.getElementById(focusedId);
      if (again) { again.focus(); }
    }
    var open = box.getAttribute("data-open-alerts");
    badge(open === null ? null : parseInt(open, 10));
    return true;
  }

  function poll() {
    if (busy || document.visibilityState === "hidden") { return; }
    busy = true;
    var src = box.getAttribute("data-src");
    var url = src + (src.indexOf("?") === -1 ? "?" : "&") + "since=" +
      encodeURIComponent(box.getAttribute("data-version"));
    fetch(url, { credentials: "same-origin", headers: { "X-Worklist-Poll": "1" }, redirect: "manual" })
      .then(function (res) {
        if (res.status === 204) { return null; }
        if (res.status !== 200) { throw new Error("stop"); }  // signed out: a redirect
        return res.text();
      })
      .then(function (html) {
        if (html !== null && !apply(html)) { throw new Error("stop"); }
      })
      .catch(function (err) {
        if (err && err.message === "stop") { stop(); }  // offline: try again next time
      })
      .then(function () { busy = false; });
  }

  function start() { if (timer === null) { timer = window.setInterval(poll, seconds * 1000); } }
  function stop() { if (timer !== null) { window.clearInterval(timer); timer = null; } }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") { stop(); } else { poll(); start(); }
  });
  start();
})();
