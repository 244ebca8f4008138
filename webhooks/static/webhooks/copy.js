// Copy and Reveal buttons of the admin pages (no library).
// <button data-copy-target="input id">: copies the input's value. The Clipboard API needs a
// secure context (https or localhost); elsewhere fall back to selecting the text.
// <button data-reveal-url="…" data-reveal-into="input id">: fetches a secret on demand (it is
// never in the page's HTML) and shows it in the input.
(function () {
  function reveal(button) {
    return fetch(button.dataset.revealUrl, {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (response) { return response.json(); })
      .then(function (data) {
        document.getElementById(button.dataset.revealInto).value = data.secret;
        button.dataset.revealed = "1";
        button.textContent = "Revealed";
        button.disabled = true;
      });
  }
  function copy(button) {
    var input = document.getElementById(button.dataset.copyTarget);
    var done = function () {
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = "Copy"; }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done);
    } else {
      input.select();
      document.execCommand("copy");
      done();
    }
  }
  document.addEventListener("click", function (event) {
    var revealButton = event.target.closest("[data-reveal-url]");
    if (revealButton) { reveal(revealButton); return; }
    var button = event.target.closest("[data-copy-target]");
    if (!button) return;
    var needs = button.dataset.copyNeedsReveal && document.getElementById(button.dataset.copyNeedsReveal);
    if (needs && !needs.dataset.revealed) { reveal(needs).then(function () { copy(button); }); return; }
    copy(button);
  });
})();
