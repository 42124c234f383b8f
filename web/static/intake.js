// The registration form's enterprise: as the name or credit code is typed, the registry's matches are
// offered (a datalist, so a phone shows its own picker); choosing one links the item to it. Without
// this script the 「在企业库中查找」 button lists the matches on the server.
(function () {
  "use strict";
  var box = document.querySelector("[data-enterprise-pick]");
  if (!box) { return; }
  var name = box.querySelector("[data-enterprise-search]");
  var code = box.querySelector("#enterprise_uscc");
  var id = box.querySelector("[data-enterprise-id]");
  var linked = box.querySelector("[data-enterprise-linked]");
  var list = document.getElementById("enterprise-choices");
  var found = {};
  var timer = null;
  var asked = "";

  function choose(e) {
    id.value = e ? String(e.id) : "";
    if (e) { code.value = e.uscc; }
    linked.textContent = e ? "已关联企业库：" + e.label : "";
  }
  function match() {
    var e = found[name.value] || found[code.value.trim().toUpperCase()];
    if (e) { choose(e); } else if (id.value) { choose(null); }
  }
  function search(q) {
    if (q.length < 2 || q === asked) { return; }
    asked = q;
    fetch("/api/v1/enterprises/search?q=" + encodeURIComponent(q), {credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (!body) { return; }
        list.textContent = "";
        body.enterprises.forEach(function (e) {
          found[e.name] = e;
          found[e.uscc] = e;
          var option = document.createElement("option");
          option.value = e.name;
          option.label = e.uscc;
          list.appendChild(option);
        });
        match();
      })
      .catch(function () { /* the server-side search button still works */ });
  }
  function later(q) {
    clearTimeout(timer);
    timer = setTimeout(function () { search(q); }, 250);
  }
  name.addEventListener("input", function () { match(); later(name.value.trim()); });
  code.addEventListener("input", function () { match(); later(code.value.trim().toUpperCase()); });
})();
