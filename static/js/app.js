// The app's own script. Loaded from our static files only: the
// Content-Security-Policy allows no inline scripts.
(function () {
  "use strict";

  // Scripts run: the no-JavaScript fallbacks in app.css (html.no-js) step aside.
  document.documentElement.classList.remove("no-js");

  // Payment Information: show the fields of the chosen Payment Method only.
  // Without JavaScript both sets stay visible and the server uses the chosen one.
  function setupPaymentMethod() {
    var form = document.getElementById("payment-profile-form");
    if (!form) return;
    var card = form.querySelector(".js-card-fields");
    var invoice = form.querySelector(".js-invoice-fields");
    function sync() {
      var checked = form.querySelector("input[name=method]:checked");
      var method = checked ? checked.value : "credit_card";
      if (!checked) {
        var first = form.querySelector("input[name=method][value=credit_card]");
        if (first) first.checked = true;
      }
      if (card) card.hidden = method !== "credit_card";
      if (invoice) invoice.hidden = method !== "invoice";
    }
    form.querySelectorAll("input[name=method]").forEach(function (radio) {
      radio.addEventListener("change", sync);
    });
    sync();
  }

  // One click, one request: a form is not sent twice while its page is loading.
  function guardDoubleSubmit() {
    document.addEventListener("submit", function (event) {
      var form = event.target;
      if (form.dataset.submitted === "1") {
        event.preventDefault();
        return;
      }
      form.dataset.submitted = "1";
      form.querySelectorAll("[type=submit]").forEach(function (button) {
        button.classList.add("disabled");
        button.setAttribute("aria-disabled", "true");
      });
    });
  }

  // Action links with data-modal open their confirmation page inside a popup.
  // Without JavaScript the same link opens the confirmation page itself.
  // When the popup closes, the keyboard focus goes back to what opened it: the row's
  // Actions button (the menu's link itself is hidden by then).
  function setupModals() {
    var shell = document.getElementById("action-modal");
    if (!shell || !window.bootstrap) return;
    var modal = new window.bootstrap.Modal(shell);
    var content = shell.querySelector(".modal-content");
    var opener = null;
    shell.addEventListener("hidden.bs.modal", function () {
      if (opener && document.contains(opener)) opener.focus();
      opener = null;
    });
    document.addEventListener("click", function (event) {
      var link = event.target.closest("a[data-modal]");
      if (!link) return;
      event.preventDefault();
      var dropdown = link.closest(".dropdown");
      opener = (dropdown && dropdown.querySelector("[data-bs-toggle=dropdown]")) || link;
      fetch(link.href, { headers: { "X-Requested-With": "fetch" }, credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) throw new Error(response.status);
          return response.text();
        })
        .then(function (html) {
          content.innerHTML = html;
          // Named by its title, which exists only now that the content is in.
          var title = content.querySelector(".modal-title[id]");
          if (title) shell.setAttribute("aria-labelledby", title.id);
          else shell.removeAttribute("aria-labelledby");
          modal.show();
          var focus = content.querySelector("textarea, input:not([type=hidden]), button[type=submit]");
          if (focus) shell.addEventListener("shown.bs.modal", function once() {
            focus.focus();
            shell.removeEventListener("shown.bs.modal", once);
          });
        })
        .catch(function () {
          window.location.href = link.href;
        });
    });
  }

  // A form sent back with errors starts with their summary (templates/bootstrap5/
  // errors.html): the keyboard focus goes there, so it is read out first, and each of
  // its links takes the focus to its field.
  function setupErrorSummary() {
    var summary = document.querySelector("[data-error-summary]");
    if (!summary) return;
    summary.focus();
    summary.addEventListener("click", function (event) {
      var link = event.target.closest("a[href^='#']");
      var field = link && document.getElementById(link.getAttribute("href").slice(1));
      if (!field) return;
      event.preventDefault();
      var label = document.querySelector("label[for='" + field.id + "']");
      (label || field).scrollIntoView();
      field.focus({ preventScroll: true });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupPaymentMethod();
    guardDoubleSubmit();
    setupModals();
    setupErrorSummary();
  });
})();
