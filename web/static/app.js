// Shows the deadline that N working days give, before the form is submitted (交办、重新交办).
(function () {
  "use strict";
  function preview(input) {
    var out = input.parentNode.querySelector(".due-preview");
    if (!out) { return; }
    var days = parseInt(input.value, 10);
    if (!days || days < 1) { out.textContent = ""; return; }
    fetch("/api/v1/calendar/add-working-days?days=" + days, {credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (!body) { out.textContent = ""; return; }
        out.textContent = "到期日：" + body.due + (body.confirmed ? "" : "（节假日安排未确认）");
      })
      .catch(function () { out.textContent = ""; });
  }
  document.querySelectorAll('input[data-working-days="true"]').forEach(function (input) {
    input.addEventListener("input", function () { preview(input); });
    preview(input);
  });
})();
