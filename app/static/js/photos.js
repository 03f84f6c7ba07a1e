// ScleroCare photo diary: the alignment guide on the add-a-photo page (the last photo
// of the chosen area, shown faintly over the new one or over the live camera), a size
// check before uploading, and compare-page selects that apply themselves. Making the
// photo smaller before it is sent is photoshrink.js's work (it tells this page when done).
// Photos are only ever shown from their own URLs or from a local blob: nothing is cached.
"use strict";
// The page's words in the reader's language (base.html's sc-i18n, read by app.js); as
// written here, in English, when there is no translation.
function t(text, vars) { return window.scT ? window.scT(text, vars) : text; }
(function () {
  var form = document.querySelector("form.photo-form");
  document.querySelectorAll("form[data-autosubmit] select[name=site]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.requestSubmit ? select.form.requestSubmit() : select.form.submit(); });
  });
  if (!form) { return; }

  var previous = {};
  try { previous = JSON.parse(form.dataset.previous || "{}"); } catch (e) { previous = {}; }
  var maxBytes = parseInt(form.dataset.maxBytes || "0", 10);
  var ghost = document.getElementById("ghost");
  var frame = ghost.querySelector(".ghost-frame");
  var ghostImg = document.getElementById("ghost-img");
  var previewImg = document.getElementById("preview-img");
  var toggle = ghost.querySelector(".ghost-toggle");
  var ghostOn = document.getElementById("ghost-on");
  var chosen = document.getElementById("chosen");
  var tooBig = document.getElementById("too-big");
  var inputs = [document.getElementById("photo-camera"), document.getElementById("photo-file")];
  var video = document.getElementById("camera-video");
  var startButton = document.getElementById("camera-start");
  var shootButton = document.getElementById("camera-shoot");
  var ghostText = document.getElementById("ghost-text");
  var stream = null;
  var previewUrl = null;
  // Live camera with the last photo over it, where the browser allows it (https or
  // localhost). The frame is taken into the same file input as a normal photo.
  var canCapture = Boolean(navigator.mediaDevices && navigator.mediaDevices.getUserMedia &&
    window.DataTransfer && HTMLCanvasElement.prototype.toBlob);

  function site() {
    var parts = ["side", "region", "view"].map(function (name) { return form.elements[name].value; });
    return parts.every(Boolean) ? parts.join("-") : "";
  }

  function showGhost() {
    var url = previous[site()];
    if (url) {
      if (ghostImg.getAttribute("src") !== url) { ghostImg.src = url; }
      ghostImg.hidden = false;
    } else {
      ghostImg.removeAttribute("src");
      ghostImg.hidden = true;
    }
    ghost.hidden = !url && !previewUrl && !stream;
    toggle.hidden = !url || (!previewUrl && !stream);
    startButton.hidden = !canCapture || !url || Boolean(stream);
    if (previewUrl) {
      ghostText.textContent = url ? t("Your new photo, with the last one faintly over it. If they do not line up, take it again.") : t("Your new photo.");
    } else if (stream) {
      ghostText.textContent = t("Line your leg up with the last photo, then press Take it now.");
    } else {
      ghostText.textContent = t("Your last photo of this area is shown faintly. Stand the same way and at the same distance, so the two line up.");
    }
  }

  function stopCamera() {
    if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); }
    stream = null;
    video.hidden = true;
    frame.classList.remove("live");
    shootButton.hidden = true;
  }

  function showPreview(file) {
    if (previewUrl) { URL.revokeObjectURL(previewUrl); previewUrl = null; }
    tooBig.hidden = !(file && maxBytes && file.size > maxBytes);
    if (!file) { previewImg.hidden = true; frame.classList.remove("has-preview"); showGhost(); return; }
    chosen.textContent = t("Photo chosen. Check it in the frame above, then press Save photo.");
    previewUrl = URL.createObjectURL(file);
    previewImg.src = previewUrl;
    previewImg.hidden = false;
    frame.classList.add("has-preview");
    stopCamera();
    showGhost();
  }

  // photoshrink.js makes a big photo smaller before it is sent; where it works on this
  // form, the preview waits for that copy (a 12 MP preview costs a phone as much again).
  var shrinking = Boolean(form.dataset.photoEdge && window.scPhotoShrink && window.scPhotoShrink.capable);
  var waitingFor = null;
  var previewTimer = null;
  inputs.forEach(function (input) {
    input.addEventListener("change", function () {
      var file = input.files && input.files[0];
      // Only one photo is sent: choosing in one picker clears the other.
      inputs.forEach(function (other) { if (other !== input) { other.value = ""; } });
      window.clearTimeout(previewTimer);
      waitingFor = file && shrinking ? input : null;
      if (!waitingFor) { showPreview(file || null); return; }
      chosen.textContent = t("Photo chosen. Check it in the frame above, then press Save photo.");
      previewTimer = window.setTimeout(function () {
        if (waitingFor === input) { waitingFor = null; showPreview((input.files && input.files[0]) || null); }
      }, 4000);
    });
  });
  form.addEventListener("sc-photo-done", function (event) {
    var file = event.detail.file;
    tooBig.hidden = !(maxBytes && file.size > maxBytes);
    if (waitingFor === event.detail.input) {
      waitingFor = null;
      window.clearTimeout(previewTimer);
      showPreview(file);
    }
  });
  ["side", "region", "view"].forEach(function (name) {
    form.elements[name].addEventListener("change", showGhost);
  });
  ghostOn.addEventListener("change", function () { frame.classList.toggle("ghost-off", !ghostOn.checked); });

  form.addEventListener("submit", function (event) {
    var file = inputs.map(function (i) { return i.files && i.files[0]; }).filter(Boolean)[0];
    if (file && maxBytes && file.size > maxBytes) {
      event.preventDefault();
      tooBig.hidden = false;
      tooBig.focus && tooBig.focus();
    }
  });

  if (canCapture) {
    startButton.addEventListener("click", function () {
      navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment", width: { ideal: 4032 } }, audio: false })
        .then(function (s) {
          stream = s;
          video.srcObject = s;
          video.hidden = false;
          previewImg.hidden = true;
          frame.classList.remove("has-preview");
          frame.classList.add("live");
          shootButton.hidden = false;
          chosen.textContent = "";
          showGhost();
          return video.play();
        })
        .catch(function () {
          stopCamera();
          showGhost();
          chosen.textContent = t("The camera could not be opened here. Use Take a photo instead.");
        });
    });
    shootButton.addEventListener("click", function () {
      if (!stream || !video.videoWidth) { return; }
      var canvas = document.createElement("canvas");
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      canvas.getContext("2d").drawImage(video, 0, 0);
      canvas.toBlob(function (blob) {
        if (!blob) { return; }
        var transfer = new DataTransfer();
        transfer.items.add(new File([blob], "camera.jpg", { type: "image/jpeg" }));
        inputs[0].files = transfer.files;
        inputs[1].value = "";
        showPreview(transfer.files[0]);
        form.dispatchEvent(new CustomEvent("sc-photo-chosen", { detail: { input: inputs[0] } }));
      }, "image/jpeg", 0.92);
    });
  }
  showGhost();
})();
