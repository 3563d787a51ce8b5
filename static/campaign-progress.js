// Live campaign page: while the campaign may change by itself (programmed, or sending), polls
// its progression (JSON) every 2 seconds. The figures of a run under way are updated in place;
// when the lifecycle changes (a run starts or ends, the campaign ends), the server-rendered
// part of the page (status, buttons, figures, outcome) is fetched again and put in place of
// the old one, and the change is announced in the page's status region (aria-live).
// Without JavaScript the page says to reload it.
(function () {
  "use strict";
  var fields = ["status_label", "recipients", "sent", "failed", "skipped", "cancelled",
    "pending", "bounced", "percent", "sent_last_minute", "estimated_end"];

  function root() {
    return document.getElementById("campagne-etat");
  }

  var first = root();
  if (!first || !window.fetch || !window.DOMParser || first.getAttribute("data-live") !== "oui") {
    return;
  }
  var progressUrl = first.getAttribute("data-progress-url");
  var pageUrl = first.getAttribute("data-page-url");

  function showHints(scope) {
    var hints = scope.querySelectorAll(".js-only");
    for (var i = 0; i < hints.length; i++) {
      hints[i].hidden = false;
    }
  }
  showHints(first);

  function setText(scope, name, value) {
    var el = scope.querySelector('[data-field="' + name + '"]');
    var text = value === null || value === undefined ? "–" : String(value);
    if (el && el.textContent !== text) {
      el.textContent = text;
    }
  }

  function updateFigures(data) {
    var region = document.getElementById("progression-envois");
    if (!region) {
      return;
    }
    data.runs.forEach(function (run) {
      var box = region.querySelector('[data-run="' + run.run_id + '"]');
      if (!box) {
        return;
      }
      fields.forEach(function (name) { setText(box, name, run[name]); });
      var bar = box.querySelector("progress");
      if (bar) {
        bar.max = run.max;
        bar.value = run.processed;
        bar.textContent = run.percent + " %";
      }
    });
  }

  function announce(text) {
    var status = document.getElementById("campagne-annonce");
    if (status) {
      status.textContent = "";
      window.setTimeout(function () { status.textContent = text; }, 100);
    }
  }

  // The page as the server renders it now, in place of the old part.
  function refreshPage() {
    return fetch(pageUrl, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("campagne-etat");
        var old = root();
        if (!fresh || !old) {
          throw new Error("no campaign state in the page");
        }
        var hadFocus = old.contains(document.activeElement);
        var imported = document.importNode(fresh, true);
        old.parentNode.replaceChild(imported, old);
        showHints(imported);
        var status = imported.querySelector("h1 .stage-badge");
        var label = status ? status.textContent.trim().toLowerCase() : "";
        if (label) {
          announce("La campagne est " + label + ".");
        }
        if (hadFocus) {
          var heading = imported.querySelector("h1");
          if (heading) {
            heading.focus();
          }
        }
        return imported;
      });
  }

  var delay = 2000;

  function poll() {
    fetch(progressUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (data) {
        // Every 2 seconds while it sends; a campaign programmed for later is looked at less
        // often.
        delay = data.sending || data.status === "en_cours" ? 2000 : 15000;
        var current = root();
        if (current && current.getAttribute("data-state") === data.state_key) {
          updateFigures(data);
          return current;
        }
        return refreshPage();
      })
      .then(function (current) {
        if (current && current.getAttribute("data-live") === "oui") {
          window.setTimeout(poll, delay);
        }
      })
      .catch(function () {
        // The network or the session failed: try again, less often.
        window.setTimeout(poll, 10000);
      });
  }

  window.setTimeout(poll, 2000);
})();
