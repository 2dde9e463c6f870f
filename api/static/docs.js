// Starts Swagger UI on /docs (an external file, so the page's CSP needs no inline script).
const node = document.getElementById("swagger-ui");
window.ui = window.SwaggerUIBundle({
  url: node.dataset.specUrl,
  dom_id: "#swagger-ui",
  deepLinking: true,
  docExpansion: "list",
  defaultModelsExpandDepth: 0,
  tryItOutEnabled: false,
});
