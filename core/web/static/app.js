// Progressive enhancement only: every form works without this file.
document.documentElement.classList.add("js");
document.addEventListener("DOMContentLoaded", function () {
  var summary = document.getElementById("error-summary");
  if (summary) summary.focus();
});

// The conversation: new messages appear without a reload (polling with a "since" marker).
document.addEventListener("DOMContentLoaded", function () {
  var list = document.querySelector("ol.messages[data-poll]");
  if (!list || !window.fetch) return;
  function poll() {
    var since = list.getAttribute("data-since") || "0";
    fetch(list.getAttribute("data-poll") + "?since=" + encodeURIComponent(since), {credentials: "same-origin"})
      .then(function (response) { return response.ok ? response.text() : ""; })
      .then(function (html) {
        if (!html.trim()) return;
        var holder = document.createElement("ol");
        holder.innerHTML = html;
        var items = holder.querySelectorAll("li.message");
        items.forEach(function (item) { list.appendChild(item); });
        if (items.length) {
          list.setAttribute("data-since", items[items.length - 1].id.replace("message-", ""));
          var empty = document.getElementById("no-messages");
          if (empty) empty.remove();
        }
      })
      .catch(function () {});
  }
  setInterval(poll, 5000);
});
