// Live progress on a campaign's page: while a run is sending, polls the campaign's progression
// (JSON) every 2 seconds and updates the figures in place, inside the page's aria-live region.
// Without JavaScript the page shows the figures as they were when it was loaded.
(function () {
  "use strict";
  var region = document.getElementById("progression-envois");
  if (!region || !window.fetch || region.getAttribute("data-sending") !== "oui") {
    return;
  }
  var url = region.getAttribute("data-progress-url");
  var fields = ["status_label", "recipients", "sent", "failed", "skipped", "cancelled",
    "pending", "percent", "sent_last_minute", "estimated_end"];

  function setText(scope, name, value) {
    var el = scope.querySelector('[data-field="' + name + '"]');
    var text = value === null || value === undefined ? "–" : String(value);
    if (el && el.textContent !== text) {
      el.textContent = text;
    }
  }

  function update(data) {
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
    if (!data.sending) {
      var end = document.getElementById("progression-fin");
      if (end) {
        end.hidden = false;
      }
    }
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (data) {
        update(data);
        if (data.sending) {
          window.setTimeout(poll, 2000);
        }
      })
      .catch(function () {
        // The network or the session failed: try again, less often.
        window.setTimeout(poll, 10000);
      });
  }

  window.setTimeout(poll, 2000);
})();
