/* 全选: a box that ticks or clears every box it names (data-select-all="<input name>").
   Progressive enhancement: the box is rendered hidden and only shown here, so without
   JavaScript the page is exactly as before (each row ticked by hand). No inline script. */
(function () {
  "use strict";
  var masters = document.querySelectorAll("input[type=checkbox][data-select-all]");
  Array.prototype.forEach.call(masters, function (master) {
    var form = master.form || document;
    var name = master.getAttribute("data-select-all");
    function boxes() {
      return Array.prototype.filter.call(
        form.querySelectorAll("input[type=checkbox]"),
        function (box) { return box.name === name && !box.disabled; });
    }
    function sync() {
      var all = boxes();
      var ticked = all.filter(function (box) { return box.checked; }).length;
      master.checked = all.length > 0 && ticked === all.length;
      master.indeterminate = ticked > 0 && ticked < all.length;
    }
    master.addEventListener("change", function () {
      boxes().forEach(function (box) { box.checked = master.checked; });
      master.indeterminate = false;
    });
    form.addEventListener("change", function (event) {
      if (event.target !== master && event.target.name === name) { sync(); }
    });
    var holder = master.closest("[hidden]");
    if (holder) { holder.hidden = false; }
    master.hidden = false;
    sync();
  });
})();
