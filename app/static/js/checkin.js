// ScleroCare daily check-in: focus on the error summary, and the optional photo.
// Before sending, a photo that is too large or has no area chosen is pointed out on
// the page, where nothing is lost yet; "Remove the photo" sends the answers without
// it. Offline, app.js keeps the answers and leaves the photo out, so these checks step
// aside then.
"use strict";
// The page's words in the reader's language (base.html's sc-i18n, read by app.js); as
// written here, in English, when there is no translation.
function t(text, vars) { return window.scT ? window.scT(text, vars) : text; }
(function () {
  // The optional photo's styles (photos.css) are not needed to paint the questions: the
  // page names them on the closed photo box, and they are fetched now, after the first
  // paint (issue 22 point 4). When the box starts open the page links them itself.
  var box = document.querySelector("[data-stylesheet]");
  if (!box) { return; }
  var href = box.getAttribute("data-stylesheet");
  var linked = Array.prototype.some.call(document.querySelectorAll('link[rel="stylesheet"]'),
    function (link) { return link.getAttribute("href") === href; });
  if (linked) { return; }
  var link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = href;
  document.head.appendChild(link);
})();
(function () {
  // After a refused check-in the error summary gets the focus, so a screen reader
  // reads it first and a keyboard user can follow its links (GOV.UK pattern).
  // A "yes" to a warning sign puts its call buttons above the summary: keep them on
  // screen (focus without scrolling, then show the page from the top).
  var summary = document.getElementById("error-summary");
  var urgent = document.getElementById("urgent-advice");
  if (summary) {
    summary.focus({ preventScroll: Boolean(urgent) });
    if (urgent) { window.scrollTo(0, 0); }
  }
})();
(function () {
  // Offline, the server cannot point out a missing answer until the phone is back
  // online, so the answers it requires (each warning sign, pain, bruising) are checked
  // here before the check-in is kept on the phone, with the same error summary. The
  // server checks again. A "yes" to any warning sign, asked on its own or through the
  // skin list, is never held back: urgent advice must not wait for the other answers
  // (the server alerts the clinic from the refused form, checkin_early.py).
  var form = document.querySelector("form.checkin-form");
  if (!form) { return; }
  function checkedIn(name) { return form.querySelector('input[name="' + name + '"]:checked'); }
  function summarise(missing) {
    var old = document.getElementById("error-summary");
    if (old) { old.parentNode.removeChild(old); }
    var box = document.createElement("div");
    box.className = "error-summary";
    box.id = "error-summary";
    box.setAttribute("role", "alert");
    box.setAttribute("aria-labelledby", "error-summary-title");
    box.tabIndex = -1;
    var heading = document.createElement("h2");
    heading.id = "error-summary-title";
    heading.textContent = t("There is a problem");
    var list = document.createElement("ul");
    missing.forEach(function (m) {
      var link = document.createElement("a");
      link.href = "#" + m.id;
      link.textContent = m.text;
      var item = document.createElement("li");
      item.appendChild(link);
      list.appendChild(item);
    });
    box.appendChild(heading);
    box.appendChild(list);
    var h1 = document.querySelector("main h1");
    h1.parentNode.insertBefore(box, h1);
    box.focus();
  }
  // A warning sign asked through another question (a blister ticked in the skin list
  // stands for the skin-breakdown sign), or an answer the protocol's rules make urgent
  // (pain 8 or more), is a "yes" too: the same offline triage as the advice shown once
  // the check-in is kept (triage.js) decides, from the answers given so far.
  function urgentAnswer() {
    var source = document.getElementById("triage-rules");
    if (!source || !window.scTriage) { return false; }
    var table;
    try { table = JSON.parse(source.textContent); } catch (e) { return false; }
    if (!table) { return false; }
    function values(name) {
      return Array.prototype.map.call(form.querySelectorAll('input[name="' + name + '"]:checked'), function (i) { return i.value; });
    }
    var pain = values("pain")[0];
    var level = window.scTriage.evaluate(table, {
      day: parseInt(form.elements.day.value, 10),
      red_flags: [],
      skin: values("skin").filter(function (v) { return v !== "none"; }),
      pain: pain === undefined ? 0 : parseInt(pain, 10),
      bruising: values("bruising")[0] || "",
      lumps: values("lumps")[0] === "yes",
      itching: values("itching")[0] === "yes"
    }).level;
    return level === "emergency" || level === "same_day";
  }
  form.addEventListener("submit", function (event) {
    if (navigator.onLine !== false) { return; }
    if (form.querySelector('.warning-questions input[value="yes"]:checked')) { return; }
    if (urgentAnswer()) { return; }
    var missing = [];
    form.querySelectorAll(".warning-questions fieldset").forEach(function (group) {
      var first = group.querySelector('input[type="radio"]');
      if (first && !checkedIn(first.name)) {
        missing.push({ id: first.id, text: t("Please answer yes or no: %(title)s", { title: group.querySelector("legend").textContent.trim() }) });
      }
    });
    if (!checkedIn("pain")) { missing.push({ id: "pain", text: t("Choose a pain score from 0 to 10.") }); }
    if (!checkedIn("bruising")) { missing.push({ id: "bruising", text: t("Choose how much bruising you have.") }); }
    // Nothing ticked in the skin list is no answer (it asks the skin-breakdown sign).
    if (form.querySelector("#skin-none") && !checkedIn("skin")) { missing.push({ id: "skin", text: t("Tick the skin changes you have, or tick 'No skin changes'.") }); }
    if (missing.length) {
      event.preventDefault();
      summarise(missing);
    }
  });
})();
(function () {
  // "No skin changes" and a skin change exclude each other (NHS.UK "None" box): ticking
  // one unticks the other, so the patient never has to fix a refused pair.
  var none = document.getElementById("skin-none");
  if (!none) { return; }
  var others = Array.prototype.filter.call(document.querySelectorAll('input[name="skin"]'), function (i) { return i !== none; });
  none.addEventListener("change", function () {
    if (none.checked) { others.forEach(function (i) { i.checked = false; }); }
  });
  others.forEach(function (i) {
    i.addEventListener("change", function () { if (i.checked) { none.checked = false; } });
  });
})();
(function () {
  var form = document.querySelector("form.checkin-form");
  var problem = document.getElementById("photo-problem");
  if (!form || !problem) { return; }
  var inputs = [document.getElementById("photo-camera"), document.getElementById("photo-file")];
  var chosen = document.getElementById("photo-chosen");
  var remove = document.getElementById("photo-remove");
  var maxBytes = parseInt(form.dataset.maxBytes || "0", 10);

  function file() {
    return inputs.map(function (i) { return i.files && i.files[0]; }).filter(Boolean)[0] || null;
  }
  function say(text) {
    problem.textContent = text;
    problem.hidden = !text;
    if (text) { problem.focus(); }
  }
  function show() {
    var f = file();
    remove.hidden = !f;
    chosen.textContent = f ? t("Photo chosen: %(name)s.", { name: f.name }) : "";
  }

  inputs.forEach(function (input) {
    input.addEventListener("change", function () {
      // Only one photo is sent: choosing in one picker clears the other.
      inputs.forEach(function (other) { if (other !== input) { other.value = ""; } });
      problem.hidden = true;
      show();
    });
  });
  remove.addEventListener("click", function () {
    inputs.forEach(function (i) { i.value = ""; });
    problem.hidden = true;
    show();
    inputs[0].focus();
  });

  form.addEventListener("submit", function (event) {
    var f = file();
    if (!f || navigator.onLine === false) { return; }
    if (maxBytes && f.size > maxBytes) {
      event.preventDefault();
      say(t("That photo is larger than %(mb)s MB. Choose a smaller one, or press Remove the photo to send your answers without it.", { mb: Math.round(maxBytes / 1048576) }));
      return;
    }
    var missing = ["side", "region", "view"].filter(function (name) { return !form.elements[name].value; });
    if (missing.length) {
      event.preventDefault();
      say(t("Please choose which area the photo shows (side, part of the leg and view), or press Remove the photo."));
    }
  });
})();
