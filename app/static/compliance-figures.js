// Draws the compliance figures with ECharts from the page's JSON endpoint (data-url):
// the year's figures against their targets, the figures by year, and per department.
// Every text comes from the JSON (translated on the server) and ECharts sets it as text.
(function () {
  const box = document.getElementById("figures-charts");
  if (!box || typeof echarts === "undefined") return;
  const pct = (v) => (v === null || v === undefined ? null : Math.round(v * 10000) / 100);
  const fmt = (v) => (v === null || v === undefined ? "—" : v + "%");

  function figuresChart(el, data) {
    const chart = echarts.init(el);
    const figures = data.figures;
    chart.setOption({
      title: { text: data.labels.figures, left: "center", textStyle: { fontSize: 14 } },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, valueFormatter: fmt },
      legend: { bottom: 0 },
      grid: { left: 8, right: 24, top: 36, bottom: 32, containLabel: true },
      xAxis: { type: "value", max: 100, axisLabel: { formatter: "{value}%" } },
      yAxis: { type: "category", inverse: true, data: figures.map((f) => f.title) },
      series: [
        {
          name: data.labels.value,
          type: "bar",
          data: figures.map((f) => ({
            value: pct(f.value),
            itemStyle: { color: f.met === false ? "#dc3545" : f.met ? "#198754" : "#6c757d" },
          })),
          label: { show: true, position: "right", formatter: (p) => fmt(p.value) },
        },
        {
          name: data.labels.target,
          type: "scatter",
          symbol: "rect",
          symbolSize: [4, 18],
          itemStyle: { color: "#212529" },
          data: figures.map((f) => pct(f.target)),
        },
      ],
    });
    return chart;
  }

  function trendChart(el, data) {
    const chart = echarts.init(el);
    chart.setOption({
      title: { text: data.labels.trend, left: "center", textStyle: { fontSize: 14 } },
      tooltip: { trigger: "axis", valueFormatter: fmt },
      legend: { type: "scroll", bottom: 0 },
      grid: { left: 8, right: 24, top: 36, bottom: 40, containLabel: true },
      xAxis: { type: "category", data: data.trend.years.map(String) },
      yAxis: { type: "value", max: 100, axisLabel: { formatter: "{value}%" } },
      series: data.trend.series.map((s) => ({
        name: s.title,
        type: "line",
        connectNulls: false,
        data: s.values.map(pct),
      })),
    });
    return chart;
  }

  function departmentChart(el, data) {
    const chart = echarts.init(el);
    const withDepartments = data.figures.filter((f) => (f.breakdowns.department || []).length);
    const names = [];
    withDepartments.forEach((f) =>
      f.breakdowns.department.forEach((r) => {
        if (!names.includes(r.label)) names.push(r.label);
      })
    );
    chart.setOption({
      title: { text: data.labels.department, left: "center", textStyle: { fontSize: 14 } },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, valueFormatter: fmt },
      legend: { type: "scroll", bottom: 0 },
      grid: { left: 8, right: 24, top: 36, bottom: 40, containLabel: true },
      xAxis: { type: "category", data: names, axisLabel: { interval: 0, overflow: "truncate", width: 120 } },
      yAxis: { type: "value", axisLabel: { formatter: "{value}%" } },
      series: withDepartments.map((f) => {
        const byName = Object.fromEntries(f.breakdowns.department.map((r) => [r.label, pct(r.value)]));
        return { name: f.title, type: "bar", data: names.map((n) => (n in byName ? byName[n] : null)) };
      }),
    });
    return chart;
  }

  fetch(box.dataset.url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
    .then((response) => (response.ok ? response.json() : Promise.reject(response.status)))
    .then((data) => {
      const charts = [
        figuresChart(box.querySelector("[data-chart=figures]"), data),
        trendChart(box.querySelector("[data-chart=trend]"), data),
        departmentChart(box.querySelector("[data-chart=department]"), data),
      ];
      window.addEventListener("resize", () => charts.forEach((c) => c.resize()));
      box.dataset.rendered = "1";
    })
    .catch(() => {
      box.dataset.rendered = "error";
    });
})();
