// Move a roster import's progress bar until the import ends, then reload
// the page to show its report. Loaded as a file (no inline script), for
// the Content Security Policy; without it the page's Refresh link works.
(function () {
  "use strict";

  var box = document.querySelector("[data-import-progress]");
  if (!box || !window.fetch) {
    return;
  }
  var url = box.getAttribute("data-import-progress");
  var label = box.querySelector("[data-progress-label]");
  var INTERVAL = 1500;
  var BACKOFF = 5000;

  function show(progress) {
    var bar = box.querySelector("progress");
    if (progress.total > 0) {
      bar.max = progress.total;
      bar.value = Math.min(progress.done, progress.total);
    } else {
      // No total known yet: an indeterminate bar.
      bar.removeAttribute("value");
    }
    label.textContent = progress.label;
  }

  function poll() {
    fetch(url, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (progress) {
        show(progress);
        if (progress.finished) {
          window.location.reload();
        } else if (!progress.stalled) {
          window.setTimeout(poll, INTERVAL);
        }
      })
      .catch(function () {
        window.setTimeout(poll, BACKOFF);
      });
  }

  window.setTimeout(poll, INTERVAL);
})();
