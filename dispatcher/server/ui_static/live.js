// Live updates for an incident page: a progressive enhancement. Every few seconds the page asks for its
// timeline's version; when it changed, only the #live region (status, due next, timeline, notices) is
// replaced. The forms are outside that region, so a half-typed update or note is never wiped.
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live || !window.fetch) { return; }
  var every = 3000;
  function poll() {
    fetch(live.dataset.url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (data) {
        if (data.version !== live.dataset.version) {
          live.innerHTML = data.html;
          live.dataset.version = data.version;
        }
        setTimeout(poll, every);
      })
      .catch(function () { setTimeout(poll, every * 5); });  // signed out or the server away: try less often
  }
  setTimeout(poll, every);
})();
