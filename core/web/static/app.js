// Progressive enhancement only: every form works without this file.
document.documentElement.classList.add("js");
document.addEventListener("DOMContentLoaded", function () {
  // Variant fields: show only the chosen variant's fieldset (all are in the page for no-JS use).
  document.querySelectorAll("[data-variant-group]").forEach(function (group) {
    var name = group.getAttribute("data-variant-group");
    var radios = group.querySelectorAll('input[type=radio][name="' + name + '"]');
    function update() {
      var chosen = "";
      radios.forEach(function (r) { if (r.checked) chosen = r.value; });
      group.querySelectorAll(":scope > .variant").forEach(function (fs) {
        fs.hidden = fs.getAttribute("data-variant") !== chosen;
      });
    }
    radios.forEach(function (r) { r.addEventListener("change", update); });
    update();
  });
  var summary = document.getElementById("error-summary");
  if (summary) summary.focus();
});
