// The draft page's live text: server-sent events from generation:stream. Each message is
// {"text": piece} (append), {"text": whole, "replace": true} (replace) or {"done": true, …}
// (the run is over: reload for the finished page), or {"status": line} (where the run stands, e.g.
// "The model is loading…"). textContent only: the model's text is never HTML.
(function () {
  const box = document.querySelector("[data-stream]");
  if (!box || !window.EventSource) return;
  const source = new EventSource(box.dataset.stream);
  source.onmessage = function (event) {
    let message;
    try { message = JSON.parse(event.data); } catch (e) { return; }
    if (message.done) { source.close(); window.location.reload(); return; }
    if (typeof message.status === "string") {
      const phase = document.querySelector("[data-phase]");
      if (phase) phase.textContent = message.status;
      return;
    }
    if (typeof message.text !== "string") return;
    if (message.replace) box.textContent = message.text;
    else box.textContent += message.text;
  };
})();
