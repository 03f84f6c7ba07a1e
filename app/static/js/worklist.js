// ScleroCare dashboard: keeps the worklist current by itself (issue 19 point 1).
// Every data-poll seconds, while the tab is visible, it asks the server whether the
// worklist changed (GET data-src with since=<version>: 204 when not). On a change it
// swaps in the new counts and rows, row by row (data-key), and keeps as they are the
// rows the clinician is working in: the one holding focus and any with typed or ticked
// input (an acknowledgement note half written). The request carries X-Worklist-Poll, so
// the server does not count it as the clinician being active (idle sign-out still
// applies; once signed out, the page reloads to the sign-in page). Without JavaScript
// the page works as before; reloading shows the news.
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

  function insertAfter(parent, node, after) {
    parent.insertBefore(node, after ? after.nextSibling : parent.firstChild);
  }

  // Rows are updated in place: a kept row is never moved or detached (that would take
  // the focus and the caret away); new rows go in around it, in the new order.
  function mergeRows(oldBody, newBody, kept) {
    var old = oldBody.querySelectorAll("tr[data-key]");
    for (var i = 0; i < old.length; i++) {
      if (!kept[old[i].getAttribute("data-key")]) { old[i].remove(); }
    }
    var cursor = null;
    var fresh = newBody.querySelectorAll("tr[data-key]");
    for (var j = 0; j < fresh.length; j++) {
      var key = fresh[j].getAttribute("data-key");
      if (kept[key]) {
        cursor = kept[key];
      } else {
        var row = document.adoptNode(fresh[j]);
        insertAfter(oldBody, row, cursor);
        cursor = row;
      }
    }
  }

  function keptRows(table) {
    var kept = {};
    var count = 0;
    if (!table) { return { rows: kept, count: 0 }; }
    var rows = table.querySelectorAll("tbody tr[data-key]");
    for (var i = 0; i < rows.length; i++) {
      if (dirty(rows[i])) { kept[rows[i].getAttribute("data-key")] = rows[i]; count++; }
    }
    return { rows: kept, count: count };
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
    var active = document.activeElement;
    var focusedId = active && box.contains(active) ? active.id : "";
    var oldTable = box.querySelector("table.worklist");
    var newTable = fresh.querySelector("table.worklist");
    var kept = keptRows(oldTable);
    if (!oldTable || !newTable) {
      // Nothing left to do in the new list, but the clinician is still in a row: keep
      // the table they are using until they are done with it.
      if (kept.count) { return true; }
      fresh = document.adoptNode(fresh);
      box.replaceWith(fresh);
      box = fresh;
    } else {
      mergeRows(oldTable.tBodies[0], newTable.tBodies[0], kept.rows);
      // Everything around the table (counts, pagers) is replaced, in the new order.
      Array.prototype.slice.call(box.children).forEach(function (el) {
        if (el !== oldTable) { el.remove(); }
      });
      var before = true;
      Array.prototype.slice.call(fresh.children).forEach(function (el) {
        if (el === newTable) { before = false; return; }
        el = document.adoptNode(el);
        if (before) { box.insertBefore(el, oldTable); } else { box.appendChild(el); }
      });
      ["data-version", "data-src", "data-open-alerts"].forEach(function (name) {
        if (fresh.hasAttribute(name)) { box.setAttribute(name, fresh.getAttribute(name)); }
        else { box.removeAttribute(name); }
      });
    }
    // Focus on something replaced (a count link, say) moves to its new copy.
    if (focusedId && document.activeElement !== active) {
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
    // A request that never ends (a dropped connection, a laptop woken from sleep) is
    // given up, or the desk would stop showing new alerts until someone reloads it.
    var ctrl = window.AbortController ? new AbortController() : null;
    var guard = ctrl ? window.setTimeout(function () { ctrl.abort(); }, Math.max(seconds, 10) * 1000) : null;
    fetch(url, { credentials: "same-origin", headers: { "X-Worklist-Poll": "1" }, redirect: "manual",
                 signal: ctrl ? ctrl.signal : undefined })
      .then(function (res) {
        if (res.status === 204) { return null; }
        // Signed out (idle too long, or elsewhere): the server redirects. Reload, so the
        // sign-in page replaces the patients' names on an unattended screen.
        if (res.type === "opaqueredirect") { stop(); window.location.reload(); return null; }
        if (res.status !== 200) { throw new Error("stop"); }
        return res.text();
      })
      .then(function (html) {
        if (html !== null && !apply(html)) { throw new Error("stop"); }
      })
      .catch(function (err) {
        if (err && err.message === "stop") { stop(); }  // offline: try again next time
      })
      .then(function () { busy = false; window.clearTimeout(guard); });
  }

  function start() { if (timer === null) { timer = window.setInterval(poll, seconds * 1000); } }
  function stop() { if (timer !== null) { window.clearInterval(timer); timer = null; } }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") { stop(); } else { poll(); start(); }
  });
  start();
})();
