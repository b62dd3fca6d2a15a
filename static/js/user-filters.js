// Admin > Users: a filter applies as soon as one of its lists (status, plan, page
// size) is changed with the mouse or a finger. With the keyboard the arrow keys
// change a closed list one step at a time, so there it applies on Enter (or the
// Apply button), not on every step. The search box applies on Enter, as a search
// does. Without JavaScript the form's visible Apply button does it all.
(function () {
  "use strict";

  function apply(form) {
    // requestSubmit: the submit event still fires (app.js guards double sends).
    if (form.requestSubmit) form.requestSubmit();
    else form.submit();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-apply-on-change]").forEach(function (form) {
      var byKeyboard = false;
      form.addEventListener("keydown", function (event) {
        if (event.target.tagName !== "SELECT") return;
        if (event.key === "Enter") {
          event.preventDefault();
          apply(form);
          return;
        }
        byKeyboard = true;
      });
      form.addEventListener("pointerdown", function () {
        byKeyboard = false;
      });
      form.addEventListener("change", function (event) {
        if (event.target.tagName === "SELECT" && !byKeyboard) apply(form);
      });
    });
  });
})();
