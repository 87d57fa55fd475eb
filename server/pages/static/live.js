// Keeps the page's live part current without a reload: polls /page/live and swaps each
// part in place; the filters change the query string (history.replaceState), not the page.
(function () {
  "use strict";
  var live = document.getElementById("live");
  var form = document.getElementById("filters");
  if (!live) { return; }
  var every = parseInt(live.getAttribute("data-poll"), 10) || 500;
  var busy = false;
  var version = "", versionOf = null;  // what the page shows ("records:now") and for which
                                       // filters; the server answers "same" to it

  function query() {
    var params = new URLSearchParams(new FormData(form));
    Array.from(params.keys()).forEach(function (k) { if (!params.get(k)) { params.delete(k); } });
    return params.toString();
  }

  function refresh() {
    if (busy || document.hidden) { return; }  // a hidden tab costs the server nothing
    busy = true;
    var q = query();
    var v = "v=" + encodeURIComponent(versionOf === q ? version : "");
    fetch("/page/live?" + (q ? q + "&" + v : v), { cache: "no-store" })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
      .then(function (data) {
        if (data.same) { live.classList.remove("stale"); return; }
        version = data.version;
        versionOf = q;
        Object.keys(data.parts).forEach(function (name) {
          var part = document.getElementById("part-" + name);
          if (part && part.innerHTML !== data.parts[name]) { part.innerHTML = data.parts[name]; }
        });
        live.setAttribute("data-updated", String(data.records));
        live.classList.remove("stale");
      })
      .catch(function () { live.classList.add("stale"); })
      .then(function () { busy = false; });
  }

  if (form) {
    form.addEventListener("change", function () {
      var q = query();
      history.replaceState(null, "", q ? "/?" + q : "/");
      refresh();
    });
  }
  setInterval(refresh, every);
})();
