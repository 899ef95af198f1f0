// Draws the charts the views prepared as JSON with Chart.js (static/vendor/chart.js-*): each
// <figure data-chart> holds a <canvas> and a <script type="application/json"> from json_script.
// kind "line": training/charts.line_chart; kind "timeline": generation/views.timeline.
// Labels reach the canvas as text, never as HTML. The live run page swaps its chart every 2 s
// (htmx): new figures are drawn on htmx:load, and charts whose canvas left the page destroyed.
(function () {
  if (!window.Chart) return;
  // Colour-blind-safe enough for two or three lines (Okabe–Ito), then it cycles.
  const PALETTE = ["#2f6f5e", "#d55e00", "#0072b2", "#cc79a7", "#e69f00", "#56b4e9"];
  const INK = "#1f2933";
  Chart.defaults.animation = false; // a chart redrawn every 2 s must not replay its entrance
  Chart.defaults.maintainAspectRatio = false; // the .chart-box sets the size
  Chart.defaults.font.family = "system-ui, sans-serif";
  Chart.defaults.color = "#616e7c";

  function axis(text, extra) {
    return Object.assign({ type: "linear", title: { display: true, text: text, color: INK } }, extra);
  }

  function line(data) {
    const datasets = data.series.map(function (series, i) {
      const colour = PALETTE[i % PALETTE.length];
      return {
        label: series.name,
        data: series.points.map(function (p) { return { x: p[0], y: p[1] }; }),
        borderColor: colour,
        backgroundColor: colour,
        borderWidth: 2,
        pointRadius: series.points.length <= 30 ? 3 : 0, // few points (checkpoints): show each
      };
    });
    data.marks.forEach(function (mark) {
      datasets.push({
        label: mark.label,
        data: [{ x: mark.x, y: mark.y }],
        showLine: false,
        pointRadius: 7,
        pointBorderWidth: 2,
        borderColor: INK,
        backgroundColor: "transparent",
      });
    });
    return {
      type: "line",
      data: { datasets: datasets },
      options: {
        scales: {
          x: axis(data.x_label, { ticks: { precision: 0 } }), // steps and versions: whole numbers
          y: axis(data.y_label),
        },
        plugins: { legend: { align: "end" } },
        interaction: { mode: "nearest", intersect: false },
      },
    };
  }

  function timeline(data) {
    return {
      type: "bar",
      data: {
        labels: data.bars.map(function (bar) { return bar.label; }),
        datasets: [{
          label: "seconds",
          data: data.bars.map(function (bar) { return [bar.start, bar.start + bar.seconds]; }),
          backgroundColor: PALETTE[0],
          borderRadius: 3,
          minBarLength: 2, // a 0 ms step still shows
        }],
      },
      options: {
        indexAxis: "y",
        scales: { x: axis(data.x_label, { min: 0 }), y: { ticks: { color: INK } } },
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              label: function (context) {
                const bar = data.bars[context.dataIndex];
                return bar.seconds.toFixed(2) + " s from +" + bar.start.toFixed(2) + " s";
              },
            },
          },
        },
      },
    };
  }

  function draw(root) {
    root.querySelectorAll("figure[data-chart]").forEach(function (figure) {
      const canvas = figure.querySelector("canvas");
      const script = figure.querySelector("script[type='application/json']");
      if (!canvas || !script || Chart.getChart(canvas)) return;
      const data = JSON.parse(script.textContent);
      if (data.kind === "timeline") {
        canvas.parentElement.style.height = 24 * data.bars.length + 56 + "px";
        new Chart(canvas, timeline(data));
      } else {
        new Chart(canvas, line(data));
      }
    });
  }

  draw(document);
  document.addEventListener("htmx:load", function (event) {
    Object.values(Chart.instances).forEach(function (chart) {
      if (!chart.canvas.isConnected) chart.destroy();
    });
    draw(event.detail.elt);
  });
})();
