/* Owner dashboards: draws the charts (Chart.js, served locally) from the JSON the page carries
   in <script type="application/json"> elements (Django's json_script). No inline script: the
   Content-Security-Policy allows scripts from our own origin only. Every chart has a table on
   the page with the same figures; the charts only add the picture. */
(function () {
  "use strict";

  var COLORS = { A: "#198754", B: "#0d6efd", C: "#6c757d", O: "#fd7e14" };
  var lang = document.documentElement.lang || "de";
  var moneyFormat = new Intl.NumberFormat(lang, { style: "currency", currency: "EUR", maximumFractionDigits: 0 });
  var numberFormat = new Intl.NumberFormat(lang);

  function readJson(id) {
    var element = document.getElementById(id);
    if (!element) {
      return null;
    }
    return JSON.parse(element.textContent);
  }

  function rgba(hex, alpha) {
    var value = parseInt(hex.slice(1), 16);
    return "rgba(" + ((value >> 16) & 255) + "," + ((value >> 8) & 255) + "," + (value & 255) + "," + alpha + ")";
  }

  function money(value) {
    return moneyFormat.format(value);
  }

  function markRendered(canvas) {
    canvas.setAttribute("data-rendered", "true");
  }

  function extent(values, fallback) {
    if (!values.length) {
      return fallback;
    }
    var low = Math.min.apply(null, values);
    var high = Math.max.apply(null, values);
    if (low === high) {
      high = low + 1;
    }
    return [Math.min(low, 0), high];
  }

  function thresholdLines(thresholds, xRange, yRange, labels) {
    var lines = [];
    var style = { type: "line", borderColor: "#212529", borderWidth: 1.5, borderDash: [6, 4], pointRadius: 0,
      pointHitRadius: 0, fill: false, isThreshold: true };
    if (thresholds.revenue !== null) {
      lines.push(Object.assign({ label: labels.threshold_revenue + " " + money(thresholds.revenue),
        data: [{ x: thresholds.revenue, y: yRange[0] }, { x: thresholds.revenue, y: yRange[1] }] }, style));
    }
    if (thresholds.potential !== null) {
      lines.push(Object.assign({ label: labels.threshold_potential + " " + money(thresholds.potential),
        data: [{ x: xRange[0], y: thresholds.potential }, { x: xRange[1], y: thresholds.potential }] }, style));
    }
    return lines;
  }

  function moneyAxis(title, range) {
    return {
      type: "linear",
      min: range[0],
      max: range[1],
      title: { display: true, text: title },
      ticks: { callback: function (value) { return money(value); } }
    };
  }

  function revenuePotential(labels) {
    var spec = readJson("data-revenue-potential");
    var canvas = document.getElementById("chart-revenue-potential");
    if (!spec || !canvas || spec.mode === "empty") {
      return;
    }
    var datasets = [];
    var xRange;
    var yRange;
    if (spec.mode === "scatter") {
      spec.classes.forEach(function (segment) {
        var points = spec.points.filter(function (p) { return p[2] === segment; }).map(function (p) {
          return { x: p[0], y: p[1], id: p[3], name: p[4] };
        });
        datasets.push({ type: "scatter", label: segment, data: points, backgroundColor: rgba(COLORS[segment], 0.7),
          borderColor: COLORS[segment], pointRadius: 3.5, pointHoverRadius: 6 });
      });
      var xs = spec.points.map(function (p) { return p[0]; });
      var ys = spec.points.map(function (p) { return p[1]; });
      if (spec.thresholds.revenue !== null) { xs.push(spec.thresholds.revenue * 1.1); }
      if (spec.thresholds.potential !== null) { ys.push(spec.thresholds.potential * 1.1); }
      xRange = extent(xs, [0, 1]);
      yRange = extent(ys, [0, 1]);
    } else {
      var bins = spec.axes.bins;
      xRange = spec.axes.revenue;
      yRange = spec.axes.potential;
      var xWidth = (xRange[1] - xRange[0]) / bins;
      var yWidth = (yRange[1] - yRange[0]) / bins;
      var largest = Math.max.apply(null, spec.bins.map(function (b) { return b[3]; }).concat([1]));
      spec.classes.forEach(function (segment) {
        var cells = spec.bins.filter(function (b) { return b[2] === segment; }).map(function (b) {
          return { x: xRange[0] + (b[0] + 0.5) * xWidth, y: yRange[0] + (b[1] + 0.5) * yWidth,
            r: 2 + 12 * Math.sqrt(b[3] / largest), n: b[3], xi: b[0], yi: b[1], segment: segment,
            x0: xRange[0] + b[0] * xWidth, x1: xRange[0] + (b[0] + 1) * xWidth,
            y0: yRange[0] + b[1] * yWidth, y1: yRange[0] + (b[1] + 1) * yWidth };
        });
        datasets.push({ type: "bubble", label: segment, data: cells, backgroundColor: rgba(COLORS[segment], 0.55),
          borderColor: COLORS[segment], borderWidth: 1 });
      });
    }
    datasets = datasets.concat(thresholdLines(spec.thresholds, xRange, yRange, labels));

    function target(chart, elements) {
      for (var i = 0; i < elements.length; i++) {
        var dataset = chart.data.datasets[elements[i].datasetIndex];
        if (!dataset.isThreshold) {
          return dataset.data[elements[i].index];
        }
      }
      return null;
    }

    function url(point) {
      if (spec.mode === "scatter") {
        return spec.customer_url.replace("/0/", "/" + point.id + "/");
      }
      return spec.bin_url + "&segment=" + encodeURIComponent(point.segment) + "&x=" + point.xi + "&y=" + point.yi;
    }

    var chart = new Chart(canvas, {
      type: "scatter",
      data: { datasets: datasets },
      options: {
        animation: false,
        maintainAspectRatio: false,
        interaction: { mode: "nearest", intersect: true },
        scales: { x: moneyAxis(labels.revenue, xRange), y: moneyAxis(labels.potential, yRange) },
        plugins: {
          legend: { position: "bottom" },
          tooltip: {
            filter: function (item) { return !item.dataset.isThreshold; },
            callbacks: {
              label: function (context) {
                var point = context.raw;
                if (spec.mode === "scatter") {
                  return point.name + " (" + context.dataset.label + "): " + labels.revenue + " " + money(point.x) +
                    ", " + labels.potential + " " + money(point.y);
                }
                return context.dataset.label + ": " + numberFormat.format(point.n) + " " + labels.customers + " — " +
                  labels.cell.replace("%(r)s", money(point.x0) + "–" + money(point.x1))
                    .replace("%(p)s", money(point.y0) + "–" + money(point.y1));
              },
              footer: function () {
                return spec.mode === "scatter" ? labels.open_customer : labels.open_cell;
              }
            }
          }
        },
        onHover: function (event, elements, chartInstance) {
          event.native.target.style.cursor = target(chartInstance, elements) ? "pointer" : "default";
        },
        onClick: function (event, elements, chartInstance) {
          var point = target(chartInstance, elements);
          if (point) {
            window.location.assign(url(point));
          }
        }
      }
    });
    canvas.chart = chart;
    markRendered(canvas);
  }

  function overTime() {
    var spec = readJson("data-over-time");
    var canvas = document.getElementById("chart-over-time");
    if (!spec || !canvas) {
      return;
    }
    var datasets = Object.keys(spec.series).map(function (segment) {
      return { label: segment, data: spec.series[segment], borderColor: COLORS[segment],
        backgroundColor: rgba(COLORS[segment], 0.2), tension: 0.2, pointRadius: 3 };
    });
    canvas.chart = new Chart(canvas, {
      type: "line",
      data: { labels: spec.labels, datasets: datasets },
      options: { animation: false, maintainAspectRatio: false, plugins: { legend: { position: "bottom" } },
        scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
    });
    markRendered(canvas);
  }

  function care(labels) {
    var spec = readJson("data-care");
    var canvas = document.getElementById("chart-care");
    if (!spec || !canvas) {
      return;
    }
    var styles = { planned: "#6ea8fe", done: "#198754", overdue: "#dc3545" };
    var datasets = ["planned", "done", "overdue"].map(function (key) {
      return { label: labels[key], data: spec.series[key], backgroundColor: styles[key] };
    });
    canvas.chart = new Chart(canvas, {
      type: "bar",
      data: { labels: spec.labels, datasets: datasets },
      options: { animation: false, maintainAspectRatio: false, plugins: { legend: { position: "bottom" } },
        scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
    });
    markRendered(canvas);
  }

  function init() {
    if (typeof Chart === "undefined") {
      return;
    }
    var labels = readJson("data-labels") || {};
    revenuePotential(labels);
    overTime();
    care(labels);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());
