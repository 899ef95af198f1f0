// The run inspector's workflow graph: mermaid (static/vendor/mermaid-*) draws the Mermaid text
// the page shows in its <details> (LangGraph's own, plus the path taken: generation/graph.py)
// into the [data-mermaid] box. securityLevel "strict": labels are sanitised, no click handlers.
(function () {
  const box = document.querySelector("[data-mermaid]");
  const source = box && document.getElementById(box.dataset.mermaid);
  if (!source || !window.mermaid) return;
  mermaid.initialize({ startOnLoad: false, securityLevel: "strict", theme: "neutral" });
  mermaid
    .render(box.id + "-svg", source.textContent)
    .then(function (result) {
      box.innerHTML = result.svg;
    })
    .catch(function (error) {
      box.textContent = "The graph could not be drawn (" + error.message + "): see its description below.";
    });
})();
