// ScleroCare daily check-in: focus on the error summary, and the optional photo.
// Before sending, a photo that is too large or has no area chosen is pointed out on
// the page, where nothing is lost yet; "Remove the photo" sends the answers without
// it. Offline, app.js keeps the answers and leaves the photo out, so these checks step
// aside then.
"use strict";
(function () {
  // After a refused check-in the error summary gets the focus, so a screen reader
  // reads it first and a keyboard user can follow its links (GOV.UK pattern).
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
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
    chosen.textContent = f ? "Photo chosen: " + f.name + "." : "";
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
      say("That photo is larger than " + Math.round(maxBytes / 1048576) + " MB. Choose a smaller one, or press Remove the photo to send your answers without it.");
      return;
    }
    var missing = ["side", "region", "view"].filter(function (name) { return !form.elements[name].value; });
    if (missing.length) {
      event.preventDefault();
      say("Please choose which area the photo shows (side, part of the leg and view), or press Remove the photo.");
    }
  });
})();
