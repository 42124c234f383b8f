// The process designer: bpmn-js Modeler (served by our server) with a panel for the properties this
// product reads (department, roles, deadlines, forms, scripts, conditions), server-side validation
// with the problems marked on the diagram, and deployment of a new version.
(function () {
  "use strict";
  var root = document.getElementById("designer");
  if (!root || !window.BpmnJS) { return; }
  var KNOWN = [
    ["department", "所属部门（固定）"], ["department_from", "所属部门（取自数据路径）"], ["roles", "可办理角色（逗号分隔）"],
    ["stage", "阶段（sign/handle/rework/dispatch/review/rating/office）"], ["due_working_days", "期限（工作日）"],
    ["due_date_from", "期限日期（数据路径）"], ["warn_before_working_days", "提前预警（工作日）"],
    ["supervise_after_working_days", "逾期后督办（工作日）"], ["formJsonSchemaFilename", "表单文件"],
    ["no_deadline", "无期限（true）"]
  ];
  var BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL";
  // bpmn-js drops references it cannot resolve; SpiffWorkflow's multi-instance loop references name
  // process variables, not elements, so they are kept here and written back on save.
  var loopRefs = {};
  function rememberLoopRefs(xml) {
    var doc = new DOMParser().parseFromString(xml, "application/xml");
    Array.prototype.forEach.call(doc.getElementsByTagNameNS(BPMN_NS, "multiInstanceLoopCharacteristics"), function (mi) {
      var refs = {};
      ["loopDataInputRef", "loopDataOutputRef"].forEach(function (tag) {
        var el = mi.getElementsByTagNameNS(BPMN_NS, tag)[0];
        if (el) { refs[tag] = el.textContent; }
      });
      loopRefs[mi.parentNode.getAttribute("id")] = refs;
    });
  }
  function restoreLoopRefs(xml) {
    var doc = new DOMParser().parseFromString(xml, "application/xml");
    Array.prototype.forEach.call(doc.getElementsByTagNameNS(BPMN_NS, "multiInstanceLoopCharacteristics"), function (mi) {
      var refs = loopRefs[mi.parentNode.getAttribute("id")] || {};
      ["loopDataOutputRef", "loopDataInputRef"].forEach(function (tag) {
        if (refs[tag] && !mi.getElementsByTagNameNS(BPMN_NS, tag).length) {
          var el = doc.createElementNS(BPMN_NS, mi.prefix ? mi.prefix + ":" + tag : tag);
          el.textContent = refs[tag];
          mi.insertBefore(el, mi.firstChild);
        }
      });
    });
    return new XMLSerializer().serializeToString(doc);
  }
  var report = document.getElementById("report");
  var forms = {}, editedForms = {};
  if (root.dataset.forms) {
    fetch(root.dataset.forms, {credentials: "same-origin"}).then(function (r) { return r.json(); })
      .then(function (f) { forms = f; });
  }
  var panel = document.getElementById("properties");
  var modeler;

  function headers() {
    return {"Content-Type": "application/json", "X-CSRF-Token": root.dataset.csrf};
  }
  function text(tag, content, cls) {
    var el = document.createElement(tag);
    if (content !== undefined) { el.textContent = content; }
    if (cls) { el.className = cls; }
    return el;
  }

  fetch(root.dataset.src, {credentials: "same-origin"})
    .then(function (r) { return r.text(); })
    .then(function (xml) {
      return fetch("/static/spiffworkflow-moddle.json").then(function (r) { return r.json(); }).then(function (d) {
        rememberLoopRefs(xml);
        modeler = new window.BpmnJS({container: "#canvas", moddleExtensions: {spiffworkflow: d}});
        window.zjtxModeler = modeler;  // for scripted use (and the browser test)
        return modeler.importXML(xml);
      });
    })
    .then(function () {
      modeler.get("canvas").zoom("fit-viewport");
      modeler.on("selection.changed", function (e) { show(e.newSelection.length === 1 ? e.newSelection[0] : null); });
      show(null);
      root.setAttribute("data-ready", "true");
    })
    .catch(function (err) { report.textContent = "流程图无法加载：" + err.message; });

  function propsOf(bo, create) {
    var moddle = modeler.get("moddle");
    if (!bo.extensionElements) {
      if (!create) { return null; }
      bo.extensionElements = moddle.create("bpmn:ExtensionElements", {values: []});
    }
    var values = bo.extensionElements.get("values");
    var props = values.filter(function (v) { return v.$type === "spiffworkflow:Properties"; })[0];
    if (!props && create) {
      props = moddle.create("spiffworkflow:Properties", {properties: []});
      values.push(props);
    }
    return props;
  }
  function getProp(bo, name) {
    var props = propsOf(bo, false);
    var found = props && props.get("properties").filter(function (p) { return p.name === name; })[0];
    return found ? found.value : "";
  }
  function setProp(bo, name, value) {
    var props = propsOf(bo, true);
    var list = props.get("properties").filter(function (p) { return p.name !== name; });
    if (value !== "") { list.push(modeler.get("moddle").create("spiffworkflow:Property", {name: name, value: value})); }
    props.set("properties", list);
  }

  function field(label, value, onchange, multiline) {
    var wrap = text("label", label);
    var input = document.createElement(multiline ? "textarea" : "input");
    input.value = value || "";
    if (multiline) { input.rows = 6; }
    input.addEventListener("change", function () { onchange(input.value.trim()); });
    wrap.appendChild(input);
    panel.appendChild(wrap);
    return input;
  }

  // The plan's clause an element (or the process) encodes: the property "clause", checked on deploy.
  function clauseField(bo) {
    field("政策条款（如 二（二）、三.22、四（二），多个用逗号分隔）", getProp(bo, "clause"),
          function (v) { setProp(bo, "clause", v); }).setAttribute("data-property", "clause");
  }
  function processOf(bo) {
    if (bo.$type === "bpmn:Participant") { return bo.processRef; }
    if (bo.$type === "bpmn:Collaboration") { return (bo.participants || []).map(function (p) { return p.processRef; })[0]; }
    return bo.$type === "bpmn:Process" ? bo : null;
  }
  function showProcess() {
    var process = processOf(modeler.get("canvas").getRootElement().businessObject);
    panel.appendChild(text("p", "选中一个元素以编辑其属性；下面是整个流程的属性", "muted"));
    if (!process) { return; }
    panel.appendChild(text("h2", "流程：" + (process.name || process.id)));
    clauseField(process);
    field("要求每个元素注明政策条款（true）", getProp(process, "clauses_required"),
          function (v) { setProp(process, "clauses_required", v); }).setAttribute("data-property", "clauses_required");
    // The district's defaults a diagram keeps as its own properties (the circular's objection window, …).
    var own = propsOf(process, false);
    (own ? own.get("properties") : []).forEach(function (p) {
      if (["clause", "clauses_required", "require_deadlines", "decision_tables"].indexOf(p.name) >= 0) { return; }
      var name = p.name;
      field("流程属性 " + name, p.value, function (v) { setProp(process, name, v); })
        .setAttribute("data-property", name);
    });
  }

  function show(element) {
    panel.innerHTML = "";
    if (!element || processOf(element.businessObject) && element.businessObject.$type !== "bpmn:Participant") {
      showProcess();
      return;
    }
    var bo = element.businessObject;
    panel.appendChild(text("h2", (bo.name || bo.id) + "（" + bo.$type.replace("bpmn:", "") + "）"));
    panel.appendChild(text("p", "ID：" + bo.id, "muted"));
    field("名称", bo.name, function (v) { modeler.get("modeling").updateLabel(element, v); })
      .setAttribute("data-property", "name");
    clauseField(bo.$type === "bpmn:Participant" ? bo.processRef : bo);
    if (/UserTask|StartEvent/.test(bo.$type)) {
      KNOWN.forEach(function (pair) {
        field(pair[1], getProp(bo, pair[0]), function (v) { setProp(bo, pair[0], v); })
          .setAttribute("data-property", pair[0]);
      });
    }
    if (/UserTask|StartEvent/.test(bo.$type)) {
      var formName = getProp(bo, "formJsonSchemaFilename");
      if (formName) {
        var current = editedForms[formName] || JSON.stringify(forms[formName] || {}, null, 2);
        var area = field("表单字段（" + formName + "，JSON Schema）", current, function (v) {
          try { JSON.parse(v); editedForms[formName] = v; area.classList.remove("invalid"); }
          catch (err) { area.classList.add("invalid"); report.textContent = "表单不是有效的 JSON：" + err.message; }
        }, true);
        area.setAttribute("data-property", "form");
      }
    }
    if (bo.$type === "bpmn:BusinessRuleTask") {
      var ext = (bo.extensionElements && bo.extensionElements.get("values")) || [];
      var ref = ext.filter(function (v) { return v.$type === "spiffworkflow:CalledDecisionId"; })[0];
      field("调用的决策表（decision id）", ref ? ref.value : "", function (v) {
        var moddle = modeler.get("moddle");
        if (!bo.extensionElements) { bo.extensionElements = moddle.create("bpmn:ExtensionElements", {values: []}); }
        var values = bo.extensionElements.get("values").filter(function (x) { return x.$type !== "spiffworkflow:CalledDecisionId"; });
        if (v) { values.push(moddle.create("spiffworkflow:CalledDecisionId", {value: v})); }
        bo.extensionElements.set("values", values);
      }).setAttribute("data-property", "calledDecisionId");
    }
    if (bo.$type === "bpmn:ScriptTask") {
      field("脚本（在沙箱中运行）", bo.script, function (v) { bo.script = v; }, true).setAttribute("data-property", "script");
    }
    if (bo.$type === "bpmn:SequenceFlow") {
      var condition = bo.conditionExpression ? bo.conditionExpression.body : "";
      field("条件表达式", condition, function (v) {
        bo.conditionExpression = v ? modeler.get("moddle").create("bpmn:FormalExpression", {body: v}) : undefined;
      }).setAttribute("data-property", "condition");
    }
  }

  function showProblems(problems) {
    var canvas = modeler.get("canvas");
    var registry = modeler.get("elementRegistry");
    registry.getAll().forEach(function (el) { canvas.removeMarker(el.id, "zjtx-problem"); });
    report.innerHTML = "";
    if (!problems.length) { report.appendChild(text("p", "校验通过", "flash")); return; }
    var list = text("ul", undefined, "problems");
    problems.forEach(function (p) {
      list.appendChild(text("li", p.message));
      if (p.element && registry.get(p.element)) { canvas.addMarker(p.element, "zjtx-problem"); }
    });
    report.appendChild(text("p", "发现 " + problems.length + " 个问题，未部署：", "flash error"));
    report.appendChild(list);
  }

  function post(url, extra) {
    return modeler.saveXML({format: true}).then(function (saved) {
      var body = Object.assign({xml: restoreLoopRefs(saved.xml), filename: root.dataset.filename, forms: editedForms},
                               extra || {});
      return fetch(url, {method: "POST", credentials: "same-origin", headers: headers(), body: JSON.stringify(body)})
        .then(function (r) { return r.json(); });
    });
  }

  function lint() {
    // bpmnlint's advice is shown, never blocks: the server's checks decide what can be deployed.
    return post(root.dataset.lint).then(function (res) {
      var canvas = modeler.get("canvas");
      var registry = modeler.get("elementRegistry");
      var old = document.getElementById("lint");
      if (old) { old.remove(); }
      var box = text("div");
      box.id = "lint";
      if (!res.findings || !res.findings.length) { return; }
      box.appendChild(text("p", "bpmnlint 建议（不影响部署）：", "muted"));
      var list = text("ul", undefined, "lint");
      res.findings.forEach(function (f) {
        list.appendChild(text("li", (f.element ? f.element + "：" : "") + f.message));
        if (f.element && registry.get(f.element)) { canvas.addMarker(f.element, "zjtx-lint"); }
      });
      box.appendChild(list);
      report.appendChild(box);
    });
  }

  document.getElementById("validate").addEventListener("click", function () {
    post(root.dataset.validate).then(function (res) { showProblems(res.problems || []); }).then(lint);
  });
  document.getElementById("deploy").addEventListener("click", function () {
    // Deploy (the server's checks decide), then show bpmnlint's advice.
    var note = document.getElementById("note").value;
    post(root.dataset.deploy, {note: note}).then(function (res) {
      if (!res.ok) { showProblems(res.problems || [{message: res.message}]); return lint(); }
      report.innerHTML = "";
      res.deployed.forEach(function (d) {
        report.appendChild(text("p", d.created ? "已部署 " + d.name + " 第 " + d.version + " 版" :
                                                  "内容未变，沿用第 " + d.version + " 版", "flash deployed"));
      });
      return lint();
    });
  });
  document.getElementById("download").addEventListener("click", function (e) {
    var link = e.currentTarget;
    if (link.dataset.ready) { return; }
    e.preventDefault();
    modeler.saveXML({format: true}).then(function (saved) {
      link.href = URL.createObjectURL(new Blob([restoreLoopRefs(saved.xml)], {type: "application/xml"}));
      link.dataset.ready = "1";
      link.click();
    });
  });
})();
