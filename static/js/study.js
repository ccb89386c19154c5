// Send study heartbeats from a course page while the member is reading it.
// The server decides what counts (learning.rules); this script only beats
// when the page is visible and the member did something (scroll, key,
// pointer, touch) within the idle time, and shows the time the server
// counted. Loaded as a file (no inline script), for the Content Security
// Policy; without it the page still works, only no time is counted.
(function () {
  "use strict";

  var box = document.querySelector("[data-study-beat]");
  if (!box || !window.fetch || box.hasAttribute("data-completed")) {
    return;
  }
  var url = box.getAttribute("data-study-beat");
  var period = parseInt(box.getAttribute("data-heartbeat"), 10) * 1000;
  var idle = parseInt(box.getAttribute("data-idle"), 10) * 1000;
  var counted = box.querySelector("[data-study-counted]");
  var lastActivity = Date.now();
  var tab = tabId();

  function tabId() {
    // One id per browser tab, kept across reloads and across courses in
    // sessionStorage: a reload or the next course is the same reader, not
    // a second tab (which the server would not count). A duplicated tab
    // copies the id; the server still never counts more than the clock.
    var key = "liudong-study-tab";
    try {
      var kept = window.sessionStorage.getItem(key);
      if (kept) {
        return kept;
      }
    } catch (error) {
      // Storage may be off (private mode); an id in memory is enough.
    }
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    var id = Array.prototype.map
      .call(bytes, function (b) {
        return ("0" + b.toString(16)).slice(-2);
      })
      .join("");
    try {
      window.sessionStorage.setItem(key, id);
    } catch (error) {
      // As above.
    }
    return id;
  }

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (input) {
      return input.value;
    }
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function active() {
    return (
      document.visibilityState === "visible" &&
      Date.now() - lastActivity <= idle
    );
  }

  function beat() {
    if (!active()) {
      return;
    }
    fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        Accept: "application/json",
        "X-CSRFToken": csrfToken(),
        "Content-Type": "application/x-www-form-urlencoded",
      },
      body: "tab=" + encodeURIComponent(tab),
    })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (result) {
        counted.textContent = result.counted;
        if (result.completed) {
          window.clearInterval(timer);
        }
      })
      .catch(function () {
        // A lost beat costs at most one period; the next one tries again.
      });
  }

  function touched() {
    lastActivity = Date.now();
  }

  ["scroll", "keydown", "pointerdown", "pointermove", "touchstart", "wheel"].forEach(
    function (name) {
      window.addEventListener(name, touched, { passive: true });
    }
  );
  var timer = window.setInterval(beat, period);
})();
