// The API's docs page (billing/api.py, templates/billing/api_docs.html): Swagger UI
// from django-ninja's static files, reading the schema this app serves. A file of
// its own, not an inline script, so the page lives under our Content-Security-Policy.
"use strict";
(function () {
  var root = document.getElementById("swagger-ui");
  if (!root || typeof SwaggerUIBundle === "undefined") {
    return;
  }
  root.textContent = "";
  SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    // No "Try it out" calls leave with a cookie: the API takes tokens only.
    withCredentials: false,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
})();
