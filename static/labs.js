// The live run page: htmx's hx-sse extension relays the run's events (named progress, loss, eval,
// sample, done, error) as DOM events on #run-stream; this file turns them into the progress bar, the
// loss chart and the samples. The stream replays stored events from the start, so leaving and coming
// back rebuilds the same view. Without JavaScript the page refreshes itself instead.
(function () {
  var seen = {};  // event ids already drawn: a reconnect never draws one twice

  function cssVar(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }

  function layout() {
    var text = cssVar("--text"), grid = cssVar("--border");
    return {
      autosize: true, height: 340, margin: { l: 55, r: 15, t: 10, b: 45 },
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)", font: { color: text },
      xaxis: { title: { text: "step" }, gridcolor: grid, zerolinecolor: grid },
      yaxis: { title: { text: "loss" }, gridcolor: grid, zerolinecolor: grid },
      legend: { orientation: "h", y: -0.25 }
    };
  }

  function setText(id, text) { var el = document.getElementById(id); if (el) el.textContent = text; }
  function pct(x) { return x == null ? "–" : Math.round(100 * x) + "%"; }

  function ensureChart(chart) {
    if (chart.dataset.ready) return;
    chart.dataset.ready = "1";
    Plotly.newPlot(chart, [
      { name: "training loss", x: [], y: [], mode: "lines+markers", line: { color: "#0072B2" }, marker: { size: 4 } },
      { name: "validation loss", x: [], y: [], mode: "lines+markers", line: { color: "#D55E00" }, marker: { size: 7 } }
    ], layout(), { responsive: true, displaylogo: false });
  }

  function sampleBlock(e) {
    var wrap = document.createElement("div");
    wrap.className = "sample";
    var prompt = document.createElement("p");
    prompt.className = "sample-prompt";
    prompt.textContent = (e.regression ? "General prompt (should not get the legal format): " : "") + e.prompt;
    var pair = document.createElement("div");
    pair.className = "side-by-side";
    [["base", e.base], ["fine-tuned", e.finetuned]].forEach(function (item) {
      var figure = document.createElement("figure"), caption = document.createElement("figcaption"), pre = document.createElement("pre");
      caption.textContent = item[0];
      pre.textContent = item[1];
      figure.appendChild(caption);
      figure.appendChild(pre);
      pair.appendChild(figure);
    });
    wrap.appendChild(prompt);
    wrap.appendChild(pair);
    return wrap;
  }

  function handle(type, e, stream) {
    var chart = document.getElementById("run-loss-chart");
    if (type === "progress") {
      setText("run-phase", e.message || "");
      if (e.phase === "train") setText("run-status", "running");
    } else if (type === "loss") {
      ensureChart(chart);
      var update = { x: [[e.step]], y: [[e.loss]] }, traces = [0];
      Plotly.extendTraces(chart, update, traces);
      if (e.eval_loss != null) Plotly.extendTraces(chart, { x: [[e.step]], y: [[e.eval_loss]] }, [1]);
      chart.dataset.points = String(Number(chart.dataset.points || 0) + 1);
      var bar = document.getElementById("run-progress");
      bar.max = e.total_steps; bar.value = e.step;
      setText("run-progress-text", "Step " + e.step + " of " + e.total_steps + " · " + Math.round(e.elapsed_s) + " s elapsed" +
        (e.eta_s != null ? " · about " + Math.round(e.eta_s) + " s left" : ""));
    } else if (type === "eval") {
      setText("run-phase", "Measured " + (e.which === "before" ? "the base model" : "the fine-tuned model") + ": " + pct(e.compliance) + " compliant");
    } else if (type === "sample") {
      var empty = document.getElementById("run-samples-empty");
      if (empty) empty.remove();
      document.getElementById("run-samples").appendChild(sampleBlock(e));
    } else if (type === "done") {
      setText("run-status", "succeeded");
      document.getElementById("run-result").hidden = false;
      setText("run-before", pct(e.compliance_before));
      setText("run-after", pct(e.compliance_after));
      setText("run-progress-text", "Done in " + Math.round(e.elapsed_s) + " s.");
      finish(stream);
    } else if (type === "error") {
      setText("run-status", document.getElementById("run").dataset.status === "cancelled" ? "cancelled" : "stopped");
      setText("run-progress-text", e.message || "The run stopped.");
      finish(stream);
    }
  }

  // The run is over: close the stream (removing the element ends hx-sse's reconnect loop) and the cancel button.
  function finish(stream) {
    stream.remove();
    var cancel = document.getElementById("run-cancel");
    if (cancel) cancel.remove();
    document.getElementById("run").dataset.finished = "1";
  }

  document.addEventListener("DOMContentLoaded", function () {
    var stream = document.getElementById("run-stream");
    if (!stream) return;
    ["progress", "loss", "eval", "sample", "done", "error"].forEach(function (type) {
      stream.addEventListener(type, function (event) {
        if (!event.detail || event.detail.data == null) return;  // not an SSE message
        if (event.detail.id && seen[event.detail.id]) return;
        if (event.detail.id) seen[event.detail.id] = true;
        handle(type, JSON.parse(event.detail.data), stream);
      });
    });
  });
})();
