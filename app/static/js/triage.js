// ScleroCare offline triage: the check-in's red-flag rules, applied on the phone.
// The rules are not written here: the check-in page carries them as JSON
// (<script type="application/json" id="triage-rules">, built by the server from the
// protocol by app/domain/checkin.py offline_rules), and evaluate() decides exactly as
// the server's triage() does (tests/browser/test_offline_triage.py runs both over
// every day and rule of every shipped protocol). Offline, an emergency answer shows
// the full-screen emergency page with its call button at once; app.js has already
// saved the check-in on the phone and sends it once the phone is back online.
"use strict";
// The page's words in the reader's language (base.html's sc-i18n, read by app.js); as
// written here, in English, when there is no translation.
function t(text, vars) { return window.scT ? window.scT(text, vars) : text; }
(function () {
  function worse(levels, a, b) {
    return levels.indexOf(a) <= levels.indexOf(b) ? a : b;
  }
  function mostSevere(levels, tiers) {
    return tiers.reduce(function (a, b) { return worse(levels, a, b); });
  }
  // The reasons as app/domain/reasons.py words them, in the reader's language.
  var BRUISING = { none: "No bruising", mild: "Mild bruising", moderate: "Moderate bruising", severe: "Severe bruising" };
  function ruleReason(rule, answers) {
    if (rule.answer === "pain" && answers.pain >= (rule.at_least || 0)) { return t("Pain %(score)s out of 10", { score: answers.pain }); }
    if (rule.answer === "bruising" && rule.choices.indexOf(answers.bruising) !== -1) {
      var words = BRUISING[answers.bruising];
      return words ? t(words) : answers.bruising.charAt(0).toUpperCase() + answers.bruising.slice(1) + " bruising";
    }
    if (rule.answer === "lumps" && answers.lumps) { return t("Tender lumps"); }
    if (rule.answer === "itching" && answers.itching) { return t("Itching"); }
    return null;
  }

  // answers: {day, red_flags: [keys answered yes], skin: [keys], pain: number,
  // bruising: text, lumps: bool, itching: bool}. Returns {level, reasons}.
  function evaluate(table, answers) {
    var levels = table.levels;
    var level = "none";
    var reasons = [];
    table.red_flags.forEach(function (flag) {
      var asked = flag.first_day <= answers.day && answers.day <= flag.last_day;
      if (asked && answers.red_flags.indexOf(flag.key) !== -1) {
        level = worse(levels, level, flag.tier);
        reasons.push(flag.title);
      }
    });
    table.answer_order.forEach(function (answer) {
      var matching = table.answer_rules.filter(function (r) { return r.answer === answer; });
      if (answer === "skin") {
        answers.skin.slice().sort().forEach(function (key) {
          var tiers = matching.filter(function (r) { return r.choices.indexOf(key) !== -1; })
            .map(function (r) { return r.tier; });
          if (tiers.length) {
            level = worse(levels, level, mostSevere(levels, tiers));
            reasons.push(table.skin_labels[key]);
          }
        });
        return;
      }
      if (answer === "pain") {
        matching = matching.filter(function (r) { return answers.pain >= (r.at_least || 0); })
          .sort(function (a, b) { return (b.at_least || 0) - (a.at_least || 0); }).slice(0, 1);
      }
      var hits = [];
      matching.forEach(function (r) {
        var reason = ruleReason(r, answers);
        if (reason) { hits.push({ tier: r.tier, reason: reason }); }
      });
      if (hits.length) {
        level = worse(levels, level, mostSevere(levels, hits.map(function (h) { return h.tier; })));
        reasons.push(hits[0].reason);
      }
    });
    return { level: level, reasons: reasons };
  }

  window.scTriage = { evaluate: evaluate };

  var source = document.getElementById("triage-rules");
  var form = document.querySelector("form.checkin-form");
  if (!source || !form) { return; }
  var table;
  try { table = JSON.parse(source.textContent); } catch (e) { return; }
  if (!table) { return; }

  function checked(name) {
    return Array.prototype.slice.call(form.querySelectorAll('input[name="' + name + '"]:checked'))
      .map(function (i) { return i.value; });
  }
  function answersOf() {
    var yes = [];
    form.querySelectorAll('input[type="radio"][name^="rf-"]:checked').forEach(function (input) {
      if (input.value === "yes") { yes.push(input.name.slice(3)); }
    });
    return {
      day: parseInt(form.elements.day.value, 10),
      red_flags: yes,
      skin: checked("skin"),
      pain: parseInt(checked("pain")[0] || "0", 10),
      bruising: checked("bruising")[0] || "",
      lumps: checked("lumps")[0] === "yes",
      itching: checked("itching")[0] === "yes"
    };
  }

  function showEmergency(result) {
    var template = document.getElementById("offline-emergency");
    var main = document.getElementById("main");
    if (!template || !main) { return; }
    var screen = template.content.firstElementChild.cloneNode(true);
    var list = screen.querySelector("ul.reasons");
    result.reasons.forEach(function (reason) {
      var item = document.createElement("li");
      item.textContent = reason;
      list.appendChild(item);
    });
    // As the server's emergency page: nothing above the number and the call button.
    document.querySelectorAll("body > header, body > nav, body > a.skip").forEach(function (el) { el.remove(); });
    document.body.classList.add("full-screen");
    var theme = document.querySelector('meta[name="theme-color"]');
    if (theme) { theme.setAttribute("content", "#a4161a"); }
    document.title = screen.querySelector("h1").textContent + " · ScleroCare";
    main.textContent = "";
    main.appendChild(screen);
    window.scrollTo(0, 0);
  }

  function showSameDay(result) {
    // Same-day advice offline: the call buttons at the top of the page, with the
    // reasons; the header and tabs stay (this is not an emergency screen).
    var template = document.getElementById("offline-same-day");
    var main = document.getElementById("main");
    if (!template || !main) { return; }
    var box = template.content.firstElementChild.cloneNode(true);
    var list = box.querySelector("ul.reasons");
    result.reasons.forEach(function (reason) {
      var item = document.createElement("li");
      item.textContent = reason;
      list.appendChild(item);
    });
    main.insertBefore(box, main.firstChild);
    window.scrollTo(0, 0);
  }

  // app.js saved an offline check-in on this phone (it dispatches "sc-queued").
  form.addEventListener("sc-queued", function () {
    var result = evaluate(table, answersOf());
    if (result.level === "emergency") { showEmergency(result); }
    else if (result.level === "same_day") { showSameDay(result); }
  });
})();
