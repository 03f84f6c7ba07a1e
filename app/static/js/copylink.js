// Copy buttons of sign-in links (app/templates/_macros/share_link.html). The clipboard
// API needs a secure context and permission; where it is missing or refused, the link
// is selected so the person can copy it themselves, and the status line says so.
"use strict";
// The page's words in the reader's language (base.html's sc-i18n, read by app.js); as
// written here, in English, when there is no translation.
function t(text, vars) { return window.scT ? window.scT(text, vars) : text; }
(function () {
  function say(status, text) {
    if (!status) { return; }
    // Cleared first, so saying the same words twice is announced twice.
    status.textContent = "";
    window.setTimeout(function () { status.textContent = text; }, 50);
  }

  function selectAll(box) {
    box.focus();
    box.select();
    box.setSelectionRange(0, box.value.length);
  }

  function fallback(box, status) {
    selectAll(box);
    var copied = false;
    try { copied = document.execCommand && document.execCommand("copy"); } catch (e) { copied = false; }
    say(status, copied ? t("Copied") : t("Link selected: press Ctrl+C (or Copy) to copy it"));
  }

  function copy(button) {
    var box = document.getElementById(button.getAttribute("data-copy-target"));
    if (!box) { return; }
    var status = document.getElementById(box.id + "-status");
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(box.value).then(
        function () { say(status, t("Copied")); },
        function () { fallback(box, status); }
      );
    } else {
      fallback(box, status);
    }
  }

  function init() {
    var buttons = document.querySelectorAll("button[data-copy-target]");
    for (var i = 0; i < buttons.length; i++) {
      var button = buttons[i];
      if (button.getAttribute("data-copy-ready")) { continue; }
      button.setAttribute("data-copy-ready", "1");
      button.hidden = false;
      button.addEventListener("click", function (event) { copy(event.currentTarget); });
    }
    // Clicking into the box selects the whole link: one tap, then the phone's Copy.
    var boxes = document.querySelectorAll(".share-link-text");
    for (var j = 0; j < boxes.length; j++) {
      boxes[j].addEventListener("focus", function (event) { selectAll(event.currentTarget); });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
