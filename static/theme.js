// Applies the saved colour theme before the first paint, so a dark-theme reader never sees a white flash.
(function () {
  try {
    var saved = localStorage.getItem("theme");
    if (saved === "light" || saved === "dark") document.documentElement.dataset.theme = saved;
  } catch (e) { /* storage disabled: follow the system theme */ }
})();
