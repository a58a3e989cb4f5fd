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

// File inputs: too many or too large files are named before anything is sent (the server checks again,
// and checks what the files are, which only the server can).
document.addEventListener("DOMContentLoaded", function () {
  function problemsOf(input) {
    var maxBytes = parseInt(input.getAttribute("data-max-bytes"), 10);
    var maxFiles = parseInt(input.getAttribute("data-max-files"), 10);
    var problems = [];
    if (input.files.length > maxFiles) problems.push(input.getAttribute("data-too-many"));
    Array.prototype.forEach.call(input.files, function (file) {
      if (file.size > maxBytes) problems.push(input.getAttribute("data-too-large").replace("{name}", file.name));
    });
    return problems;
  }
  function show(input, problems) {
    var note = document.getElementById(input.id + "-check");
    if (!note) {
      note = document.createElement("p");
      note.id = input.id + "-check";
      note.className = "field-error";
      note.setAttribute("role", "alert");
      input.parentNode.insertBefore(note, input);
      input.setAttribute("aria-describedby", (input.getAttribute("aria-describedby") || "") + " " + note.id);
    }
    note.textContent = problems.join(" ");
    note.hidden = !problems.length;
  }
  document.querySelectorAll("input[type=file][data-max-bytes]").forEach(function (input) {
    input.addEventListener("change", function () { show(input, problemsOf(input)); });
    if (input.form) {
      input.form.addEventListener("submit", function (event) {
        var problems = problemsOf(input);
        show(input, problems);
        if (problems.length) {
          event.preventDefault();
          input.focus();
        }
      });
    }
  });
});

// Choices that follow another choice (a system's holders, a holder's current groups): on a change the form is
// updated from the server, which narrows and prefills exactly as the "Välj system" button does without
// JavaScript; only the fields that depend on a choice are replaced, so what else was typed or chosen (files
// too) stays as it is.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.querySelector("form.request-form");
  if (!form || !window.fetch || !window.DOMParser || !window.FormData) return;
  var pending = 0;
  form.addEventListener("change", function (event) {
    var changed = event.target;
    if (!changed.hasAttribute || !changed.hasAttribute("data-refresh")) return;
    var data = new FormData(form);
    form.querySelectorAll("input[type=file]").forEach(function (input) { data.delete(input.name); });
    data.delete("remove_kept");  // an update never removes a kept file; sending the form does
    data.set("step", "refresh:" + changed.getAttribute("data-refresh"));
    var mine = ++pending;
    form.setAttribute("aria-busy", "true");
    fetch(form.getAttribute("action"), {method: "POST", body: data, credentials: "same-origin"})
      .then(function (response) { return response.ok ? response.text() : ""; })
      .then(function (html) {
        if (!html || mine !== pending) return;
        var fresh = new DOMParser().parseFromString(html, "text/html");
        form.querySelectorAll("[data-depends-on]").forEach(function (part) {
          if (part.contains(changed)) return;
          var replacement = fresh.getElementById(part.id);
          if (replacement) part.replaceWith(document.importNode(replacement, true));
        });
      })
      .catch(function () {})
      .then(function () { if (mine === pending) form.removeAttribute("aria-busy"); });
  });
});
