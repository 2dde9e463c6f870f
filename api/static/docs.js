// /docs: the operations are plain HTML from the server; Swagger UI (1.7 MB of script) loads only on request.
const button = document.getElementById("load-console");
button.classList.remove("pending"); // its room was kept, so nothing moves
button.addEventListener("click", () => {
  button.disabled = true;
  const css = document.createElement("link");
  css.rel = "stylesheet";
  css.href = button.dataset.css;
  document.head.append(css);
  const script = document.createElement("script");
  script.src = button.dataset.bundle;
  script.onload = () => {
    document.getElementById("operations").hidden = true;
    button.hidden = true;
    window.ui = window.SwaggerUIBundle({
      url: button.dataset.specUrl,
      dom_id: "#swagger-ui",
      deepLinking: true,
      docExpansion: "list",
      defaultModelsExpandDepth: 0,
      tryItOutEnabled: false,
    });
  };
  document.body.append(script);
}, { once: true });
