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
  var tab = newTabId();

  function newTabId() {
    // A new id for every page load: a duplicated tab copies sessionStorage,
    // and must not pass for the tab it was copied from.
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    var id = Array.prototype.map
      .call(bytes, function (b) {
        return ("0" + b.toString(16)).slice(-2);
      })
      .join("");
    try {
      window.sessionStorage.setItem(
        "liudong-study-tab-" + box.getAttribute("data-course"),
        id
      );
    } catch (error) {
      // Storage may be off (private mode); the id in memory is enough.
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
