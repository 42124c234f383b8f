// Dashboard charts (ECharts, served by our own server). They follow the screen's width: on a phone the
// department names get a narrower margin, and every chart resizes when the window (or phone) turns.
(function () {
  "use strict";
  var byDep = document.getElementById("by-department");
  if (!byDep || !window.echarts) { return; }
  var charts = [];
  function narrow() { return window.innerWidth < 720; }
  function depOption(d) {
    var names = d.table.map(function (r) { return r.department; });
    return {
      tooltip: {trigger: "axis"}, legend: {data: ["在办", "逾期", "已办结"]},
      grid: {left: narrow() ? 8 : 20, right: 16, top: 30, bottom: 20, containLabel: true},
      xAxis: {type: "value"},
      yAxis: {type: "category", data: names, axisLabel: {width: narrow() ? 96 : 160, overflow: "truncate"}},
      series: [
        {name: "在办", type: "bar", stack: "a", data: d.table.map(function (r) { return Math.max(r.received - r.closed - r.returns, 0); })},
        {name: "逾期", type: "bar", stack: "a", itemStyle: {color: "#c9302c"}, data: d.table.map(function (r) { return r.overdue_now; })},
        {name: "已办结", type: "bar", itemStyle: {color: "#2e9d4e"}, data: d.table.map(function (r) { return r.closed; })}
      ]
    };
  }
  fetch(byDep.dataset.src, {credentials: "same-origin"})
    .then(function (r) { return r.json(); })
    .then(function (d) {
      // Tall enough for one readable bar per department.
      byDep.style.height = Math.max(300, d.table.length * 28 + 60) + "px";
      var deps = echarts.init(byDep);
      deps.setOption(depOption(d));
      // One bar per level of the escalation ladder, in its colour (engine/deadlines/ladder.py).
      var levels = d.levels || [];
      var esc = echarts.init(document.getElementById("escalations"));
      esc.setOption({
        tooltip: {}, grid: {left: 8, right: 16, top: 20, bottom: 20, containLabel: true},
        xAxis: {type: "category", data: levels.map(function (l) { return l.label; })},
        yAxis: {type: "value", minInterval: 1},
        series: [{type: "bar", data: levels.map(function (l) { return {value: l.count, itemStyle: {color: l.colour}}; })}]
      });
      charts = [[deps, function () { return depOption(d); }], [esc, null]];
      var pending = null;
      window.addEventListener("resize", function () {
        clearTimeout(pending);
        pending = setTimeout(function () {
          charts.forEach(function (c) { if (c[1]) { c[0].setOption(c[1]()); } c[0].resize(); });
        }, 150);
      });
      byDep.setAttribute("data-rendered", "true");
    });
})();
