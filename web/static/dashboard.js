// Dashboard charts (ECharts, served by our own server).
(function () {
  "use strict";
  var byDep = document.getElementById("by-department");
  if (!byDep || !window.echarts) { return; }
  fetch(byDep.dataset.src, {credentials: "same-origin"})
    .then(function (r) { return r.json(); })
    .then(function (d) {
      var names = d.table.map(function (r) { return r.department; });
      echarts.init(byDep).setOption({
        tooltip: {trigger: "axis"}, legend: {data: ["在办", "逾期", "已办结"]},
        grid: {left: 140, right: 20, top: 30, bottom: 20},
        xAxis: {type: "value"}, yAxis: {type: "category", data: names},
        series: [
          {name: "在办", type: "bar", stack: "a", data: d.table.map(function (r) { return Math.max(r.received - r.closed - r.returns, 0); })},
          {name: "逾期", type: "bar", stack: "a", itemStyle: {color: "#c9302c"}, data: d.table.map(function (r) { return r.overdue_now; })},
          {name: "已办结", type: "bar", itemStyle: {color: "#2e9d4e"}, data: d.table.map(function (r) { return r.closed; })}
        ]
      });
      // One bar per level of the escalation ladder, in its colour (engine/deadlines/ladder.py).
      var levels = d.levels || [];
      echarts.init(document.getElementById("escalations")).setOption({
        tooltip: {}, xAxis: {type: "category", data: levels.map(function (l) { return l.label; })},
        yAxis: {type: "value", minInterval: 1},
        series: [{type: "bar", data: levels.map(function (l) { return {value: l.count, itemStyle: {color: l.colour}}; })}]
      });
      byDep.setAttribute("data-rendered", "true");
    });
})();
