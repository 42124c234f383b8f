// Draws the instance's diagram with bpmn-js and marks completed, active and overdue steps.
(function () {
  "use strict";
  var box = document.getElementById("diagram");
  if (!box || !window.BpmnJS) { return; }
  function ids(name) { return (box.dataset[name] || "").split(",").filter(Boolean); }
  var viewer = new window.BpmnJS({container: box});
  fetch(box.dataset.src, {credentials: "same-origin"})
    .then(function (r) { return r.text(); })
    .then(function (xml) { return viewer.importXML(xml); })
    .then(function () {
      var canvas = viewer.get("canvas");
      var registry = viewer.get("elementRegistry");
      canvas.zoom("fit-viewport");
      function mark(list, css) {
        list.forEach(function (id) {
          if (registry.get(id)) { canvas.addMarker(id, css); }
          // Steps inside the departments' sub-process are drawn on its own plane; mark the sub-process too.
          else if (registry.get("handle_by_departments")) { canvas.addMarker("handle_by_departments", css); }
        });
      }
      mark(ids("completed"), "zjtx-done");
      mark(ids("active"), "zjtx-active");
      mark(ids("overdue"), "zjtx-overdue");
      box.setAttribute("data-rendered", "true");
    })
    .catch(function (err) {
      box.textContent = "流程图无法显示：" + err.message;
      box.setAttribute("data-rendered", "error");
    });
})();
