// The post editor's "Rewrite selection" and "Continue from here" (generation/assist.py).
//
// 1. Ask: the editor's text as it is on screen, the selection as character offsets (code
//    points, as Python counts them; the textarea counts UTF-16 units) and an optional
//    instruction go to generation:assist, which queues a run.
// 2. Watch: the run's server-sent events show the text as the model writes it.
// 3. Decide: once finished, the proposal comes back as hunks. Each change is taken or left;
//    kept text is shown for context.
// 4. Put in: the taken changes replace the selection, after checking the text there is still
//    what was sent (typing elsewhere meanwhile is fine). Done as an "insertText" edit, so Ctrl-Z
//    undoes it, and the input event lets the preview and autosave follow.
// Model text is only ever placed with textContent, never as HTML.
(function () {
  const panel = document.getElementById("assist");
  const editor = document.getElementById("id_body_markdown");
  if (!panel || !editor || !window.fetch) return;
  const form = editor.form;
  const $ = (id) => document.getElementById(id);
  const status = $("assist-status"), live = $("assist-live"), list = $("assist-hunks");
  const actions = $("assist-actions"), instruction = $("assist-instruction");
  const buttons = panel.querySelectorAll("[data-assist-kind]");
  const TAIL = 80; // characters before the selection used to find it again
  let current = null; // {run, urls, start, end, selection, tail, hunks, taken, source}

  function csrf() {
    const input = form.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }
  function say(text, kind) {
    status.textContent = text;
    status.className = kind === "error" ? "error" : "muted";
  }
  function busy(on) {
    buttons.forEach((b) => { b.disabled = on; });
    $("assist-cancel").hidden = !on;
  }
  function codePoints(text) { return Array.from(text).length; }

  async function ask(kind) {
    const value = editor.value;
    const start = editor.selectionStart, end = editor.selectionEnd;
    if (kind === "rewrite" && start === end) { say("Select the words to rewrite first.", "error"); return; }
    const body = new URLSearchParams({
      post: panel.dataset.post,
      kind: kind,
      text: value,
      start: String(codePoints(value.slice(0, start))),
      end: String(codePoints(value.slice(0, kind === "rewrite" ? end : start))),
      instruction: instruction.value,
    });
    reset();
    busy(true);
    say(kind === "rewrite" ? "Asking for a rewrite…" : "Asking for a continuation…");
    let response, data;
    try {
      response = await fetch(panel.dataset.assist, {
        method: "POST", body: body, credentials: "same-origin",
        headers: { "X-CSRFToken": csrf(), "Accept": "application/json" },
      });
      data = await response.json();
    } catch (e) {
      busy(false); say("The server could not be reached; try again.", "error"); return;
    }
    if (!response.ok) { busy(false); say(data.error || "The request was refused.", "error"); return; }
    const selectionEnd = kind === "rewrite" ? end : start;
    current = {
      run: data.run, urls: data, kind: kind, start: start, end: selectionEnd,
      selection: value.slice(start, selectionEnd), tail: value.slice(Math.max(0, start - TAIL), start),
    };
    $("assist-page").href = data.page;
    say("Waiting for a worker…");
    watch();
  }

  function watch() {
    live.hidden = false;
    live.textContent = "";
    if (!window.EventSource) { poll(); return; }
    const source = new EventSource(current.urls.stream);
    current.source = source;
    source.onmessage = function (event) {
      let message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      if (message.done) { source.close(); fetchProposal(); return; }
      if (typeof message.text !== "string") return;
      say("Writing…");
      if (message.replace) live.textContent = message.text;
      else live.textContent += message.text;
    };
  }

  async function poll() {
    if (!current) return;
    const data = await (await fetch(current.urls.proposal, { credentials: "same-origin" })).json();
    if (!data.finished) { setTimeout(poll, 1500); return; }
    show(data);
  }

  async function fetchProposal() {
    if (!current) return;
    try {
      const response = await fetch(current.urls.proposal, { credentials: "same-origin" });
      show(await response.json());
    } catch (e) {
      busy(false); say("The proposal could not be fetched; open the run's page.", "error");
    }
  }

  function show(data) {
    busy(false);
    live.hidden = true;
    if (data.status !== "succeeded" && data.status !== "needs_review") {
      say(data.error || ("The run ended: " + data.status_label + "."), "error");
      current = null;
      return;
    }
    if (data.selection !== current.selection) {
      say("The proposal does not match the selection that was sent; ask again.", "error");
      return;
    }
    current.hunks = data.hunks;
    current.taken = new Set(data.hunks.filter((h) => h.id > 0).map((h) => h.id));
    current.urls.taken = data.taken;
    if (!current.taken.size) { say("The model proposed no change.", "muted"); return; }
    const warnings = data.findings.filter((f) => f.kind !== "length");
    say(data.status === "needs_review"
      ? "The guard still found problems (below): read each change before taking it."
      : "Take or leave each change, then put the taken ones in the text.");
    render(warnings);
  }

  function render(findings) {
    list.replaceChildren();
    if (findings.length) {
      const ul = document.createElement("ul");
      ul.className = "assist-findings";
      findings.forEach((f) => {
        const li = document.createElement("li");
        li.textContent = f.kind + ": " + f.detail;
        ul.appendChild(li);
      });
      list.appendChild(ul);
    }
    const text = document.createElement("div");
    text.className = "draft-text assist-diff";
    current.hunks.forEach((h) => {
      if (h.id === 0) { text.appendChild(document.createTextNode(h.old)); return; }
      const hunk = document.createElement("span");
      hunk.className = "hunk taken";
      hunk.dataset.id = String(h.id);
      if (h.old) { const del = document.createElement("del"); del.textContent = h.old; hunk.appendChild(del); }
      if (h.new) { const ins = document.createElement("ins"); ins.textContent = h.new; hunk.appendChild(ins); }
      const toggle = document.createElement("button");
      toggle.type = "button";
      toggle.className = "hunk-toggle";
      toggle.setAttribute("aria-pressed", "true");
      toggle.textContent = "✓ take";
      toggle.title = "Take or leave this change";
      toggle.addEventListener("click", () => decide(h.id, !current.taken.has(h.id)));
      hunk.appendChild(toggle);
      text.appendChild(hunk);
    });
    list.appendChild(text);
    list.hidden = false;
    actions.hidden = false;
    count();
  }

  function decide(id, take) {
    if (take) current.taken.add(id); else current.taken.delete(id);
    const hunk = list.querySelector('.hunk[data-id="' + id + '"]');
    hunk.classList.toggle("taken", take);
    hunk.classList.toggle("left", !take);
    const toggle = hunk.querySelector(".hunk-toggle");
    toggle.setAttribute("aria-pressed", String(take));
    toggle.textContent = take ? "✓ take" : "✗ leave";
    count();
  }

  function count() {
    const total = current.hunks.filter((h) => h.id > 0).length;
    $("assist-apply").textContent = "Put " + current.taken.size + " of " + total + " changes in the text";
  }

  // Where the selection is now: where it was, or the one place its text (and the text just
  // before it) still appears. null when it cannot be found for certain.
  function locate(value) {
    const c = current;
    if (value.slice(c.start, c.end) === c.selection && value.slice(0, c.start).endsWith(c.tail)) {
      return [c.start, c.end];
    }
    const needle = c.tail + c.selection;
    const first = value.indexOf(needle);
    if (needle && first >= 0 && value.indexOf(needle, first + 1) < 0) {
      const start = first + c.tail.length;
      return [start, start + c.selection.length];
    }
    return null;
  }

  async function apply() {
    const place = locate(editor.value);
    if (!place) {
      say("The text around the selection changed since you asked, so the changes cannot be placed for certain. Ask again.", "error");
      return;
    }
    const replacement = current.hunks
      .map((h) => (h.id > 0 && current.taken.has(h.id) ? h.new : h.old)).join("");
    const total = current.hunks.filter((h) => h.id > 0).length, taken = current.taken.size;
    editor.focus();
    editor.setSelectionRange(place[0], place[1]);
    if (!document.execCommand || !document.execCommand("insertText", false, replacement)) {
      editor.setRangeText(replacement, place[0], place[1], "end");
      editor.dispatchEvent(new Event("input", { bubbles: true }));
    }
    const body = new URLSearchParams({ accepted: String(taken), total: String(total) });
    fetch(current.urls.taken, {
      method: "POST", body: body, credentials: "same-origin", headers: { "X-CSRFToken": csrf() },
    }).catch(() => {});
    reset();
    say("Put in " + taken + " of " + total + " changes. Ctrl-Z undoes it; save when you are happy.");
  }

  function reset() {
    if (current && current.source) current.source.close();
    current = null;
    list.replaceChildren();
    list.hidden = true;
    actions.hidden = true;
    live.hidden = true;
  }

  buttons.forEach((b) => b.addEventListener("click", () => ask(b.dataset.assistKind)));
  $("assist-apply").addEventListener("click", apply);
  $("assist-all").addEventListener("click", () => current.hunks.forEach((h) => h.id > 0 && decide(h.id, true)));
  $("assist-none").addEventListener("click", () => current.hunks.forEach((h) => h.id > 0 && decide(h.id, false)));
  $("assist-discard").addEventListener("click", () => { reset(); say("Proposal discarded."); });
  $("assist-cancel").addEventListener("click", async () => {
    if (!current) return;
    await fetch(current.urls.cancel, {
      method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrf() },
    }).catch(() => {});
    say("Stopping…");
  });
})();
