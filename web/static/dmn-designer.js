// Decision tables in the browser: dmn-js (served by our server); validation and deployment as for diagrams.
(function () {
  "use strict";
  var root = document.getElementById("designer");
  if (!root || !window.DmnJS) { return; }
  var report = document.getElementById("report");
  var modeler = new window.DmnJS({container: "#canvas"});
  window.zjtxModeler = modeler;
  // A rule's clause of the plan is written in its annotation (the 注释 column), checked on deploy.
  var aside = document.getElementById("properties");
  aside.innerHTML = "";
  var hint = document.createElement("p");
  hint.className = "muted";
  hint.id = "clause-hint";
  hint.textContent = "政策条款：在规则的注释（Annotations）栏写〔条款：二（二）〕，多个用逗号分隔；部署时校验条款是否存在。";
  aside.appendChild(hint);

  fetch(root.dataset.src, {credentials: "same-origin"})
    .then(function (r) { return r.text(); })
    .then(function (xml) { return modeler.importXML(xml); })
    .then(function () {
      var table = modeler.getViews().filter(function (v) { return v.type === "decisionTable"; })[0];
      if (table) { modeler.open(table); }
      root.setAttribute("data-ready", "true");
    })
    .catch(function (err) { report.textContent = "决策表无法加载：" + err.message; });

  function post(url, extra) {
    return modeler.saveXML({format: true}).then(function (saved) {
      var body = Object.assign({xml: saved.xml, filename: root.dataset.filename}, extra || {});
      return fetch(url, {method: "POST", credentials: "same-origin", body: JSON.stringify(body),
                         headers: {"Content-Type": "application/json", "X-CSRF-Token": root.dataset.csrf}})
        .then(function (r) { return r.json(); });
    });
  }
  function show(res) {
    report.innerHTML = "";
    var p = document.createElement("p");
    if (res.ok && res.deployed) {
      p.className = "flash deployed";
      p.textContent = res.deployed.filter(function (d) { return d.created; }).map(function (d) {
        return "已部署 " + d.name + " 第 " + d.version + " 版"; }).join("；") || "内容未变";
    } else if (res.ok) {
      p.className = "flash";
      p.textContent = "校验通过";
    } else {
      p.className = "flash error";
      p.textContent = (res.problems || []).map(function (x) { return x.message; }).join("；") || res.message;
    }
    report.appendChild(p);
  }
  document.getElementById("validate").addEventListener("click", function () { post(root.dataset.validate).then(show); });
  document.getElementById("deploy").addEventListener("click", function () {
    post(root.dataset.deploy, {note: document.getElementById("note").value}).then(show);
  });
})();
