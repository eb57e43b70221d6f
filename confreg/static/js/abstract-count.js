/* Progressive enhancement: count the abstract as it is typed (the server counts too). */
(function () {
  "use strict";
  var box = document.getElementById("abstract"), out = document.getElementById("abstract-count");
  if (!box || !out) return;
  var strong = out.querySelector("strong");
  box.addEventListener("input", function () {
    var n = box.value.replace(/\s/g, "").length;
    strong.textContent = n;
    out.classList.toggle("over", n > 400);
  });
})();
