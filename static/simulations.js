// Simulation widgets: draws each figure the server sent with Plotly.react (no flash between slider
// moves), keeps slider labels and subset checkboxes in step, and re-colours charts with the theme.
// The server does the maths; this file only draws.
(function () {
  function cssVar(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  // The figures come with a light layout; adapt colours to the page's theme before drawing.
  function themed(layout) {
    var text = cssVar("--text"), grid = cssVar("--border");
    var copy = JSON.parse(JSON.stringify(layout || {}));
    copy.paper_bgcolor = "rgba(0,0,0,0)";
    copy.plot_bgcolor = "rgba(0,0,0,0)";
    copy.font = Object.assign({}, copy.font, { color: text });
    Object.keys(copy).forEach(function (key) {
      if (/^[xy]axis\d*$/.test(key)) {
        copy[key] = Object.assign({}, copy[key], { gridcolor: grid, zerolinecolor: grid, linecolor: grid });
      }
    });
    if (copy.legend) copy.legend = Object.assign({}, copy.legend, { bgcolor: "rgba(0,0,0,0)" });
    return copy;
  }

  function draw(script) {
    var chart = document.getElementById(script.dataset.chart);
    if (!chart || !window.Plotly || script.__drawn) return;
    script.__drawn = true;
    var figure = JSON.parse(script.textContent);
    chart.__figure = figure;
    Plotly.react(chart, figure.data, themed(figure.layout), { responsive: true, displaylogo: false })
      .then(function () { chart.dataset.draws = String(Number(chart.dataset.draws || 0) + 1); });
  }

  // Draws every figure not drawn yet: the page's first ones, then each one a swap brings in.
  function drawNew() {
    document.querySelectorAll("script.sim-figure").forEach(draw);
  }

  function formatValue(input) {
    var value = Number(input.value), unit = input.dataset.unit || "";
    var text = Number.isInteger(value) ? value.toLocaleString("en-US")
      : value.toLocaleString("en-US", { maximumSignificantDigits: 3 });
    return unit === "$" ? "$" + text : (text + " " + unit).trim();
  }

  // Capture phase: runs before htmx (listening on the form) collects the form's values.
  document.addEventListener("input", function (event) {
    var input = event.target;
    if (input.matches && input.matches(".sim-controls input[type=range]")) {
      var output = document.getElementById(input.id + "-value");
      if (output) output.textContent = formatValue(input);
    }
  }, true);

  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!box.dataset || !box.dataset.subsetOf) return;
    var fieldset = box.closest("fieldset");
    var checked = Array.prototype.filter.call(fieldset.querySelectorAll("[data-subset-of]"), function (b) { return b.checked; });
    if (checked.length === 0) { box.checked = true; return; } // at least one must stay selected
    fieldset.querySelector("[data-subset-target]").value = checked.map(function (b) { return b.value; }).join(",");
  }, true);

  document.addEventListener("DOMContentLoaded", drawNew);
  document.addEventListener("htmx:after:swap", drawNew);

  // The theme switch changes CSS variables; redraw so the axes and text follow.
  new MutationObserver(function () {
    document.querySelectorAll(".sim-chart").forEach(function (chart) {
      if (chart.__figure) Plotly.react(chart, chart.__figure.data, themed(chart.__figure.layout));
    });
  }).observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });
})();
