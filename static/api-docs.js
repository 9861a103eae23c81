// Starts Swagger UI on /api/docs; a file, not an inline script, so the page works under the CSP.
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    // The API checks CSRF on every POST: send the double-submit cookie's value as the header.
    requestInterceptor: function (request) {
      var match = document.cookie.match(/(?:^|; )csrftoken=([^;]*)/);
      if (match) request.headers["x-csrftoken"] = decodeURIComponent(match[1]);
      return request;
    },
  });
});
