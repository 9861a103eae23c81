// Small glue for the course pages: the theme switch and focus after a quiz answer is swapped in.
// Everything here is an enhancement; the pages work without JavaScript.
(function () {
  var order = ["system", "light", "dark"];
  var labels = { system: "follows your system", light: "light", dark: "dark" };

  function currentTheme() {
    return document.documentElement.dataset.theme || "system";
  }

  function showTheme(button) {
    var theme = currentTheme();
    button.querySelector(".theme-label").textContent = theme === "system" ? "auto" : theme;
    button.title = "Colour theme " + labels[theme] + "; activate to switch";
    button.dataset.theme = theme;
  }

  document.addEventListener("DOMContentLoaded", function () {
    var button = document.getElementById("theme-toggle");
    if (!button) return;
    showTheme(button);
    button.addEventListener("click", function () {
      var next = order[(order.indexOf(currentTheme()) + 1) % order.length];
      if (next === "system") {
        delete document.documentElement.dataset.theme;
        try { localStorage.removeItem("theme"); } catch (e) {}
      } else {
        document.documentElement.dataset.theme = next;
        try { localStorage.setItem("theme", next); } catch (e) {}
      }
      showTheme(button);
    });
  });

  // After htmx swaps in a graded question, move focus to its feedback so keyboard and
  // screen-reader users land on the explanation rather than at the top of the page.
  document.addEventListener("htmx:after:swap", function () {
    var feedback = document.querySelector("[data-focus-me]");
    if (feedback) {
      feedback.removeAttribute("data-focus-me");
      feedback.focus({ preventScroll: false });
    }
  });
})();
