// The mapping editor of a Receive Data action: sample paths fill mapping rows.
// - a click on a path puts it into the first empty row (adding one when none is empty), with
//   its suggested field when the server guessed one, else focuses the field search box;
// - "Map all suggested" does that for every suggested path not mapped yet, and marks the
//   saved rows whose path is not in the captured sample for deletion (visible, undoable).
(function () {
  var ROWS = "#mappings-group tr.form-row:not(.empty-form)";

  function rows() { return Array.prototype.slice.call(document.querySelectorAll(ROWS)); }
  function pathInput(row) { return row.querySelector("input[name$='-source_path']"); }
  function fieldInput(row) { return row.querySelector("[name$='-field']"); }
  function deleteBox(row) { return row.querySelector("input[name$='-DELETE']"); }
  function live(row) { var box = deleteBox(row); return !(box && box.checked); }

  function emptyRow() {
    var found = rows().find(function (row) {
      return !pathInput(row).value && !fieldInput(row).value;
    });
    if (found) return found;
    var add = document.querySelector("#mappings-group .add-row a");
    if (!add) return null;
    add.click();
    return rows().find(function (row) { return !pathInput(row).value && !fieldInput(row).value; });
  }

  function fieldTaken(field) {
    return rows().some(function (row) { return live(row) && fieldInput(row).value === field; });
  }

  function map(path, field) {
    var row = emptyRow();
    if (!row) return null;
    pathInput(row).value = path;
    if (field && !fieldTaken(field)) fieldInput(row).value = field;
    return row;
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-map-path]");
    if (button) {
      event.preventDefault();
      var row = map(button.dataset.mapPath, button.dataset.suggestField);
      if (!row) return;
      if (!fieldInput(row).value) fieldInput(row).focus();
      row.scrollIntoView({block: "nearest"});
      return;
    }
    if (event.target.closest("#le-map-suggested")) {
      event.preventDefault();
      var samplePaths = Array.prototype.map.call(
        document.querySelectorAll("#le-sample-paths [data-map-path]"),
        function (b) { return b.dataset.mapPath; });
      rows().forEach(function (row) {
        var path = pathInput(row).value, box = deleteBox(row);
        if (box && path && samplePaths.indexOf(path) === -1) box.checked = true;
      });
      document.querySelectorAll("#le-sample-paths [data-suggest-field]").forEach(function (b) {
        var mapped = rows().some(function (row) { return live(row) && pathInput(row).value === b.dataset.mapPath; });
        if (!mapped && !fieldTaken(b.dataset.suggestField)) map(b.dataset.mapPath, b.dataset.suggestField);
      });
    }
  });
})();
