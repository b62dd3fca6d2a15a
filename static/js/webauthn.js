// Security keys and passkeys: the browser's part of WebAuthn, done by the
// webauthn-json library that allauth ships (static mfa/js/webauthn-json.js); the
// server (allauth with fido2) makes the options and checks the answer. A button
// with data-webauthn="create" (add a key) or "get" (sign in with one) reads its
// options from data-options, puts the browser's answer into the form's
// "credential" field and sends the form.
(function () {
  "use strict";
  function start(button) {
    const form = document.getElementById(button.dataset.form) || button.closest("form");
    const field = form.querySelector("[name=credential]");
    const status = document.getElementById(button.dataset.status);
    button.addEventListener("click", async function (event) {
      event.preventDefault();
      const options = JSON.parse(button.dataset.options);
      try {
        let credential;
        if (button.dataset.webauthn === "create") {
          const passkey = form.querySelector("[name=passwordless]");
          const selection = options.publicKey.authenticatorSelection || {};
          if (passkey) {
            selection.residentKey = passkey.checked ? "required" : "discouraged";
            selection.requireResidentKey = passkey.checked;
            if (passkey.checked) selection.userVerification = "required";
          }
          options.publicKey.authenticatorSelection = selection;
          credential = await window.webauthnJSON.create(options);
        } else {
          credential = await window.webauthnJSON.get(options);
        }
        field.value = JSON.stringify(credential);
        form.submit();
      } catch (error) {
        if (status) {
          status.textContent = "Your security key did not answer (" + error.name +
            "). Try again, or use a code instead.";
        }
      }
    });
  }
  document.querySelectorAll("[data-webauthn]").forEach(start);
})();
