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

  // Payment Information's card box: Stripe's Card Element (from Stripe.js, or its
  // local stand-in). On Save with Credit Card chosen, the page asks our server for a
  // SetupIntent, Stripe.js confirms the card with Stripe (and runs the bank's check,
  // 3-D Secure, when the bank asks for one), and only then is the form sent, with
  // the SetupIntent's id in place of any card data: the card never reaches us.
  // Whatever goes wrong leaves everything as it was and says so in plain words.
  var CARD_WORDS = {
    card_declined: "Your bank declined the card, so nothing was saved. Use another card, or ask your bank why it was declined.",
    insufficient_funds: "Your bank declined the card: it does not have enough funds. Nothing was saved. Use another card, or choose Invoice.",
    expired_card: "The card has expired, so nothing was saved. Use a card that is still valid.",
    incorrect_cvc: "The security code (CVC) is not right, so nothing was saved. Check the 3 or 4 digits on the card and try again.",
    invalid_cvc: "The security code (CVC) is not right, so nothing was saved. Check the 3 or 4 digits on the card and try again.",
    incomplete_cvc: "The security code (CVC) is incomplete. Type all of its digits.",
    incorrect_number: "The card number is not right, so nothing was saved. Check it and try again.",
    invalid_number: "The card number is not right, so nothing was saved. Check it and try again.",
    incomplete_number: "The card number is incomplete. Type all of its digits.",
    invalid_expiry_month: "The expiry date is not right. Check the month and year on the card.",
    invalid_expiry_year: "The expiry date is not right. Check the month and year on the card.",
    invalid_expiry_year_past: "The card has expired. Use a card that is still valid.",
    incomplete_expiry: "The expiry date is incomplete. Type the month and year on the card.",
    processing_error: "The card could not be checked just now, and nothing was saved. Try again in a few minutes.",
    setup_intent_authentication_failure: "Your bank's check of the card failed or was cancelled, so nothing was saved. Save again and complete the check your bank shows, or use another card."
  };
  var CARD_UNREADABLE = "The card could not be confirmed, and nothing was saved. Check the number, expiry date and CVC, and try again.";
  var CARD_OFFLINE = "The payment processor could not be reached, and nothing was saved. Check your connection and try again, or choose Invoice.";

  function cardWords(error) {
    var code = error && (error.decline_code || error.code);
    if (code && CARD_WORDS[code]) return CARD_WORDS[code];
    if (error && /authenticat/i.test(error.message || "")) {
      return CARD_WORDS.setup_intent_authentication_failure;
    }
    return CARD_UNREADABLE;
  }

  function setupCardEntry() {
    var form = document.getElementById("payment-profile-form");
    var box = document.getElementById("card-entry");
    if (!form || !box) return;
    var message = document.getElementById("card-errors");
    var intent = form.querySelector("input[name=setup_intent]");
    var name = form.querySelector("input[name=cardholder_name]");
    function say(text, isError) {
      message.textContent = text;
      message.classList.toggle("text-danger", !!isError);
    }
    if (typeof window.Stripe !== "function") {
      say("The card box could not be loaded, so a card cannot be entered just now. Reload the page to try again, or choose Invoice.", true);
      return;
    }
    var stripe = window.Stripe(box.dataset.stripeKey);
    var card = stripe.elements().create("card");
    card.mount("#card-element");
    var busy = false;
    form.addEventListener("submit", function (event) {
      var method = form.querySelector("input[name=method]:checked");
      if (!method || method.value !== "credit_card" || intent.value) return;
      // Not sent yet: kept from the double-submit guard until the card is confirmed.
      event.preventDefault();
      event.stopPropagation();
      if (busy) return;
      var holder = name.value.trim();
      if (!holder) {
        say("Enter the cardholder name as it appears on the card, then save.", true);
        name.focus();
        return;
      }
      busy = true;
      say("Checking the card with your bank…", false);
      var csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
      fetch(box.dataset.setupUrl, {
        method: "POST",
        headers: { "X-CSRFToken": csrf, "X-Requested-With": "fetch" },
        credentials: "same-origin"
      })
        .then(function (response) {
          return response.json().then(function (body) {
            if (!response.ok || !body.client_secret) throw { ours: body.error || CARD_OFFLINE };
            return stripe.confirmCardSetup(body.client_secret, {
              payment_method: { card: card, billing_details: { name: holder } }
            });
          });
        })
        .then(function (result) {
          if (result.error) throw result.error;
          intent.value = result.setupIntent.id;
          say("Card confirmed. Saving…", false);
          busy = false;
          if (form.requestSubmit) form.requestSubmit();
          else form.submit();
        })
        .catch(function (error) {
          busy = false;
          intent.value = "";
          if (error && error.ours) say(error.ours, true);
          else if (error instanceof TypeError) say(CARD_OFFLINE, true);
          else say(cardWords(error), true);
        });
    });
  }

  // One click, one request: a form is not sent twice while its page is loading.
  function guardDoubleSubmit() {
    document.addEventListener("submit", function (event) {
      var form = event.target;
      if (form.hasAttribute("data-modal")) return; // opens a popup: nothing is sent
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
      show(link.href, (dropdown && dropdown.querySelector("[data-bs-toggle=dropdown]")) || link);
    });
    // A GET form with data-modal (the Users page's bulk bar) opens its answer the
    // same way: the button pressed is the opener.
    document.addEventListener("submit", function (event) {
      var form = event.target;
      if (!form.hasAttribute("data-modal")) return;
      event.preventDefault();
      var params = new URLSearchParams(new FormData(form, event.submitter));
      var url = form.action + (form.action.indexOf("?") < 0 ? "?" : "&") + params.toString();
      show(url, event.submitter || form);
    });
    function show(href, from) {
      opener = from;
      fetch(href, { headers: { "X-Requested-With": "fetch" }, credentials: "same-origin" })
        .then(function (response) {
          // 400: a selection the server refused, said in the popup itself.
          if (!response.ok && response.status !== 400) throw new Error(response.status);
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
          window.location.href = href;
        });
    }
  }

  // The Users page's checkboxes: "select all on this page" (the header's), the
  // count of what is selected, and "Select all N matching", offered once every row
  // of the page is ticked. Without JavaScript the header box stays hidden and
  // "Select all N matching" is a plain checkbox of the bulk form.
  function setupBulkSelection() {
    var form = document.getElementById("bulk-form");
    if (!form) return;
    var pageBox = document.getElementById("bulk-page");
    var boxes = Array.prototype.slice.call(
      document.querySelectorAll("input[type=checkbox][name=ids][form=bulk-form]")
    );
    var allWrap = document.getElementById("bulk-all-matching-wrap");
    var allBox = document.getElementById("bulk-all-matching");
    var count = document.getElementById("bulk-count");
    function sync() {
      var ticked = boxes.filter(function (box) { return box.checked; }).length;
      var every = boxes.length > 0 && ticked === boxes.length;
      if (pageBox) {
        pageBox.checked = every;
        pageBox.indeterminate = ticked > 0 && !every;
      }
      if (allWrap) {
        if (!every) allBox.checked = false;
        allWrap.hidden = !every;
      }
      if (allBox && allBox.checked) {
        count.textContent = "All " + allBox.dataset.count + " matching users selected.";
      } else if (ticked) {
        count.textContent = ticked + " selected.";
      } else {
        count.textContent = "Tick users to act on several at once.";
      }
    }
    if (pageBox) {
      pageBox.hidden = false;
      pageBox.addEventListener("change", function () {
        boxes.forEach(function (box) { box.checked = pageBox.checked; });
        sync();
      });
    }
    boxes.forEach(function (box) { box.addEventListener("change", sync); });
    if (allBox) allBox.addEventListener("change", sync);
    sync();
  }

  // A bulk action's page while it runs: the bar follows its progress, and the page
  // reloads to show the result when it is done. (Without JavaScript the page
  // refreshes itself: a <noscript> meta refresh.)
  function setupBulkProgress() {
    var running = document.getElementById("bulk-running");
    if (!running) return;
    var bar = document.getElementById("bulk-progress");
    var text = document.getElementById("bulk-progress-text");
    function poll() {
      fetch(running.dataset.progressUrl, { credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) throw new Error(response.status);
          return response.json();
        })
        .then(function (state) {
          bar.max = state.total;
          bar.value = state.done;
          text.textContent = state.done + " of " + state.total + " done.";
          if (state.finished) window.location.reload();
          else window.setTimeout(poll, 1000);
        })
        .catch(function () {
          window.setTimeout(poll, 5000);
        });
    }
    window.setTimeout(poll, 1000);
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
    setupCardEntry();
    guardDoubleSubmit();
    setupModals();
    setupErrorSummary();
    setupBulkSelection();
    setupBulkProgress();
  });
})();
