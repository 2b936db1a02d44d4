// Live progress of a sending campaign in the admin: polls the campaign's progress endpoint.
(function () {
  "use strict";
  var box = document.getElementById("campaign-progress");
  if (!box) return;
  var url = box.getAttribute("data-progress-url");
  var live = ["sending", "scheduled"];
  function set(id, value) {
    var el = document.getElementById(id);
    if (el) el.textContent = value;
  }
  function tick() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (p) {
        if (!p) return;
        set("campaign-status", p.status_label);
        set("campaign-sent", p.sent);
        set("campaign-total", p.total);
        set("campaign-failed", p.failed);
        var bar = document.getElementById("campaign-bar");
        if (bar) { bar.max = Math.max(p.total, 1); bar.value = p.sent; }
        if (live.indexOf(p.status) >= 0) {
          window.setTimeout(tick, 2000);
        } else if (p.status !== box.getAttribute("data-status")) {
          window.location.reload(); // sent, paused or cancelled: show the buttons that fit now
        }
      })
      .catch(function () { window.setTimeout(tick, 5000); });
  }
  if (live.indexOf(box.getAttribute("data-status")) >= 0) window.setTimeout(tick, 2000);
})();
