// The API keys page: a "Copy" button beside a new key. The button is hidden in the HTML and shown here, so
// without JavaScript nobody sees a button that does nothing; panels swapped in by htmx get theirs shown too.
(function () {
  function reveal(root) {
    root.querySelectorAll("button[data-copy-target][hidden]").forEach(function (button) {
      if (navigator.clipboard) button.hidden = false;
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy-target]");
    if (!button) return;
    var target = document.getElementById(button.dataset.copyTarget);
    navigator.clipboard.writeText(target.textContent.trim()).then(function () {
      button.textContent = "Copied";
    }, function () {
      button.textContent = "Copy failed: select the key and copy it";
    });
  });

  document.addEventListener("DOMContentLoaded", function () {
    reveal(document);
    new MutationObserver(function () { reveal(document); }).observe(document.body, { childList: true, subtree: true });
  });
})();
