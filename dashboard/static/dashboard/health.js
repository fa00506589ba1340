// Refreshes the health page in place from its JSON view (same origin, staff session).
// Without scripts the page refreshes itself with <meta http-equiv="refresh">.
(function () {
  "use strict";
  var root = document.getElementById("health");
  if (!root) return;
  var source = root.getAttribute("data-source");
  var seconds = Number(root.getAttribute("data-refresh-seconds")) || 5;
  var problem = document.getElementById("refresh-error");

  function apply(data) {
    Object.keys(data.readings).forEach(function (key) {
      var reading = data.readings[key];
      document.querySelectorAll('[data-key="' + key + '"]').forEach(function (el) {
        el.textContent = reading.text;
        el.setAttribute("data-state", reading.state);
      });
      document.querySelectorAll('[data-state-of="' + key + '"]').forEach(function (el) {
        el.setAttribute("data-state", reading.state);
      });
    });
    root.setAttribute("data-updated-at", data.updated_at);
  }

  function fail(message) {
    problem.textContent = " · could not refresh: " + message;
    problem.hidden = false;
  }

  function refresh() {
    if (document.hidden) return schedule();
    fetch(source, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        var type = response.headers.get("Content-Type") || "";
        if (!response.ok || type.indexOf("application/json") !== 0) {
          throw new Error(response.redirected ? "signed out, reload the page" : "HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (data) {
        apply(data);
        problem.hidden = true;
      })
      .catch(function (error) {
        fail(error.message || "network error");
      })
      .then(schedule);
  }

  function schedule() {
    window.setTimeout(refresh, seconds * 1000);
  }

  document.documentElement.classList.add("js");
  schedule();
})();
