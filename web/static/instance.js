// Draws the instance's diagram with bpmn-js: completed, active and overdue steps marked, the open
// steps labelled with the department holding them and their deadline, automatic steps drawn small and
// grey, and zoom by buttons, Ctrl+wheel or two fingers (a phone starts with the whole width in view).
(function () {
  "use strict";
  var box = document.getElementById("diagram");
  if (!box || !window.BpmnJS) { return; }
  var FONT = 13;            // the labels' size at zoom 1
  var READABLE = 12.5 / FONT; // the smallest zoom a desktop starts at: labels stay >= 12 px
  var PHONE = 700;          // narrower than this, the diagram starts fitted to the width
  var AUTOMATIC = ["bpmn:ScriptTask", "bpmn:ServiceTask", "bpmn:BusinessRuleTask"];
  function ids(name) { return (box.dataset[name] || "").split(",").filter(Boolean); }
  function openTasks() {
    var el = document.getElementById("diagram-tasks");
    try { return el ? JSON.parse(el.textContent) : []; } catch (e) { return []; }
  }
  var style = {fontFamily: "Microsoft YaHei, PingFang SC, Noto Sans CJK SC, sans-serif", fontSize: FONT + "px",
               lineHeight: 1.25};
  var viewer = new window.BpmnJS({container: box, textRenderer: {defaultStyle: style, externalStyle: style}});
  window.zjtxViewer = viewer;  // for the browser tests

  function deadline(t) {
    if (t.overdue) {
      return t.working_days_left ? "已逾期 " + (-t.working_days_left) + " 个工作日" : "已逾期（今日到期）";
    }
    if (!t.due) { return t.status; }
    var left = t.working_days_left === 0 ? "今日到期" : "剩余 " + t.working_days_left + " 个工作日";
    return t.due.slice(5, 10) + " 前 · " + left;
  }
  function overlays(registry, overlay) {
    var byStep = {};
    openTasks().forEach(function (t) { (byStep[t.bpmn_id] = byStep[t.bpmn_id] || []).push(t); });
    Object.keys(byStep).forEach(function (id) {
      if (!registry.get(id)) { return; }
      var html = document.createElement("div");
      html.className = "zjtx-holder";
      byStep[id].forEach(function (t) {
        var line = document.createElement("div");
        line.className = "zjtx-holder-line" + (t.overdue ? " late" : "");
        line.textContent = t.department + " · " + t.status + " · " + deadline(t);
        html.appendChild(line);
      });
      overlay.add(id, "zjtx-holder", {position: {bottom: -6, left: -4}, scale: {min: 0.9, max: 1.2}, html: html});
    });
  }
  // The same in words above the diagram: readable on a phone before anyone zooms.
  function summary() {
    var tasks = openTasks(), list = document.getElementById("diagram-now");
    if (!list || !tasks.length) { return; }
    tasks.forEach(function (t) {
      var li = document.createElement("li");
      li.className = t.overdue ? "late" : "";
      li.textContent = t.department + " · " + (names[t.bpmn_id] || t.bpmn_id) + " · " + deadline(t);
      list.appendChild(li);
    });
    list.hidden = false;
  }
  var names = {};
  function mark(canvas, registry) {
    registry.forEach(function (e) { if (e.businessObject && e.businessObject.name) { names[e.id] = e.businessObject.name; } });
    function each(list, css) {
      list.forEach(function (id) { if (registry.get(id)) { canvas.addMarker(id, css); } });
    }
    each(ids("completed"), "zjtx-done");
    each(ids("active"), "zjtx-active");
    each(ids("overdue"), "zjtx-overdue");
    registry.filter(function (e) { return AUTOMATIC.indexOf(e.type) >= 0; })
      .forEach(function (e) { canvas.addMarker(e.id, "zjtx-auto"); });
  }

  function firstView(canvas, registry) {
    var inner = canvas.viewbox().inner, width = box.clientWidth, height = box.clientHeight;
    if (width < PHONE) {   // the whole width, the box no taller than needed; the user zooms in
      var scale = width / (inner.width + 20);
      height = Math.max(240, Math.min(window.innerHeight * 0.6, inner.height * scale + 40));
      box.style.height = height + "px";
      canvas.resized();
      var h = height / scale;
      canvas.viewbox({x: inner.x - 10, y: inner.y + inner.height / 2 - h / 2, width: inner.width + 20, height: h});
      return;
    }
    canvas.zoom("fit-viewport");
    if (canvas.zoom() >= READABLE) { return; }
    var active = ids("active").map(function (id) { return registry.get(id); }).filter(Boolean)[0];
    var scale = Math.max(READABLE, Math.min(1, canvas.zoom()));
    var w = width / scale, h = height / scale;
    var x = active ? active.x + active.width / 2 - w / 2 : inner.x - 10;
    var y = active ? active.y + active.height / 2 - h / 2 : inner.y - 10;
    canvas.viewbox({x: Math.max(inner.x - 10, x), y: Math.max(inner.y - 10, y), width: w, height: h});
  }

  function zoomButtons(canvas, registry) {
    document.querySelectorAll("[data-zoom]").forEach(function (button) {
      button.addEventListener("click", function () {
        var how = button.dataset.zoom;
        if (how === "fit") { canvas.zoom("fit-viewport"); return; }
        var centre = {x: box.clientWidth / 2, y: box.clientHeight / 2};
        canvas.zoom(canvas.zoom() * (how === "in" ? 1.25 : 0.8), centre);
      });
    });
  }

  // Touch: one finger pans, two fingers zoom (diagram-js handles the mouse and Ctrl+wheel itself).
  function touch(canvas) {
    var points = {}, last = null;
    function state() {
      var p = Object.keys(points).map(function (k) { return points[k]; });
      if (p.length === 1) { return {x: p[0].x, y: p[0].y, d: 0}; }
      if (p.length >= 2) {
        return {x: (p[0].x + p[1].x) / 2, y: (p[0].y + p[1].y) / 2, d: Math.hypot(p[0].x - p[1].x, p[0].y - p[1].y)};
      }
      return null;
    }
    box.addEventListener("pointerdown", function (e) {
      if (e.pointerType !== "touch") { return; }
      points[e.pointerId] = {x: e.clientX, y: e.clientY};
      last = state();
    });
    box.addEventListener("pointermove", function (e) {
      if (e.pointerType !== "touch" || !points[e.pointerId]) { return; }
      points[e.pointerId] = {x: e.clientX, y: e.clientY};
      var now = state();
      if (!now || !last) { return; }
      if (now.d && last.d) {
        var rect = box.getBoundingClientRect();
        canvas.zoom(canvas.zoom() * now.d / last.d, {x: now.x - rect.left, y: now.y - rect.top});
      }
      canvas.scroll({dx: now.x - last.x, dy: now.y - last.y});
      last = now;
      e.preventDefault();
    });
    function up(e) { delete points[e.pointerId]; last = state(); }
    box.addEventListener("pointerup", up);
    box.addEventListener("pointercancel", up);
  }

  // The plan's clause each element encodes (its spiffworkflow property "clause"): a tooltip on the
  // element, and in words under the diagram when it is clicked or tapped.
  var SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core";
  function clausesOf(xml) {
    var out = {}, doc = new DOMParser().parseFromString(xml, "application/xml");
    Array.prototype.forEach.call(doc.getElementsByTagNameNS(SPIFF_NS, "property"), function (p) {
      var owner = p.parentNode && p.parentNode.parentNode && p.parentNode.parentNode.parentNode;
      if (p.getAttribute("name") === "clause" && owner && owner.getAttribute) { out[owner.getAttribute("id")] = p.getAttribute("value"); }
    });
    return out;
  }
  function showClauses(registry, clauses) {
    var line = document.getElementById("diagram-clause");
    if (!line) {
      line = document.createElement("p");
      line.id = "diagram-clause";
      line.className = "diagram-clause";
      box.parentNode.insertBefore(line, box.nextSibling);
    }
    Object.keys(clauses).forEach(function (id) {
      var gfx = registry.getGraphics(id);
      if (!gfx) { return; }
      var title = document.createElementNS("http://www.w3.org/2000/svg", "title");
      title.textContent = "政策条款：" + clauses[id];
      gfx.appendChild(title);
    });
    viewer.on("element.click", function (e) {
      var bo = e.element.businessObject || {};
      var own = clauses[e.element.id] || (bo.processRef && clauses[bo.processRef.id]);
      line.textContent = (bo.name || e.element.id) + "：" + (own ? "政策条款 " + own : "未注明政策条款");
      line.setAttribute("data-element", e.element.id);
    });
  }
  var source = "";
  fetch(box.dataset.src, {credentials: "same-origin"})
    .then(function (r) { return r.text(); })
    .then(function (xml) { source = xml; return viewer.importXML(xml); })
    .then(function () {
      var canvas = viewer.get("canvas");
      var registry = viewer.get("elementRegistry");
      mark(canvas, registry);
      showClauses(registry, clausesOf(source));
      overlays(registry, viewer.get("overlays"));
      summary();
      firstView(canvas, registry);
      zoomButtons(canvas, registry);
      touch(canvas);
      box.setAttribute("data-rendered", "true");
    })
    .catch(function (err) {
      box.textContent = "流程图无法显示：" + err.message;
      box.setAttribute("data-rendered", "error");
    });
})();
