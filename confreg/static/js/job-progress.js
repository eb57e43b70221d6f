/* A long job's page: ask the server for its state every second and show it, until it has
   finished. Without JavaScript the page reloads itself instead (<noscript> refresh). */
(function () {
  "use strict";
  var box = document.getElementById("job");
  if (!box || !window.fetch) { return; }
  var url = box.getAttribute("data-status-url");
  function show(id, text) {
    var node = document.getElementById(id);
    if (!node) { return; }
    node.textContent = text || "";
    node.hidden = !text;
  }
  function update(state) {
    document.getElementById("job-status-label").textContent = state.status_label;
    document.getElementById("job-step").textContent = state.step || "";
    document.getElementById("job-progress").value = state.percent;
    document.getElementById("job-percent").textContent = state.percent;
    box.setAttribute("data-status", state.status);
    show("job-summary", state.summary);
    show("job-error", state.error);
    if (state.finished) {
      if (box.getAttribute("data-reload")) {  // the page itself shows the result
        window.location.reload();
        return true;
      }
      document.getElementById("job-wait-note").hidden = true;
      if (state.file_url) {
        var link = document.getElementById("job-file-link");
        link.href = state.file_url;
        link.textContent = "下载 " + (state.file_name || "结果");
        document.getElementById("job-file").hidden = false;
      }
    }
    return state.finished;
  }
  function poll() {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (state) {
        if (!state || !update(state)) { window.setTimeout(poll, 1000); }
      })
      .catch(function () { window.setTimeout(poll, 3000); });  // network down: keep trying
  }
  if (box.getAttribute("data-status") !== "done" && box.getAttribute("data-status") !== "failed") {
    poll();
  }
})();
