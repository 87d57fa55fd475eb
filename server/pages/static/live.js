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

  var held = "";  // the digests of the parts shown, in the server's order: unchanged
                   // parts are not sent again

  function query() {
    // The address's own parameters (a table's page) and the filters' current values.
    var params = new URLSearchParams(location.search);
    new FormData(form).forEach(function (value, key) { params.set(key, value); });
    Array.from(params.keys()).forEach(function (k) { if (!params.get(k)) { params.delete(k); } });
    return params.toString();
  }

  function refresh() {
    if (busy || document.hidden) { return; }  // a hidden tab costs the server nothing
    busy = true;
    var q = query();
    var same = versionOf === q;
    var v = "v=" + encodeURIComponent(same ? version : "") +
            "&h=" + encodeURIComponent(same ? held : "");
    fetch("/page/live?" + (q ? q + "&" + v : v), { cache: "no-store" })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
      .then(function (data) {
        if (data.same) { live.classList.remove("stale"); return; }
        version = data.version;
        versionOf = q;
        held = data.digests || "";
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
      var params = new URLSearchParams(location.search);
      params.delete("spage");  // new filters: back to each table's first page
      params.delete("jpage");
      history.replaceState(null, "", params.toString() ? "/?" + params.toString() : "/");
      var q = query();
      history.replaceState(null, "", q ? "/?" + q : "/");
      refresh();
    });
  }
  setInterval(refresh, every);
})();
