/* 打印: a button (data-print) that opens the browser's print dialogue. It is rendered hidden
   and only shown here, so without JavaScript there is no dead button. No inline handler:
   the Content-Security-Policy allows only scripts served from /static. */
(function () {
  "use strict";
  Array.prototype.forEach.call(document.querySelectorAll("button[data-print]"), function (button) {
    button.addEventListener("click", function () { window.print(); });
    button.hidden = false;
  });
})();
