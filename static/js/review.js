// The reviewer's page (templates/compliance/review.html): select to mark, keys to check words.
// Selecting text in the raw pane fills the "mark a missed span" form with its offsets, counted
// in code points (as Python counts them) over the pane's text, which is exactly the raw text.
document.addEventListener("mouseup", function () {
  const pane = document.getElementById("raw-text");
  const form = document.getElementById("mark-form");
  const selection = window.getSelection();
  if (!pane || !form || !selection.rangeCount || selection.isCollapsed) return;
  const range = selection.getRangeAt(0);
  if (!pane.contains(range.startContainer) || !pane.contains(range.endContainer)) return;
  const before = document.createRange();
  before.selectNodeContents(pane);
  before.setEnd(range.startContainer, range.startOffset);
  const start = Array.from(before.toString()).length;
  form.elements["start"].value = start;
  form.elements["end"].value = start + Array.from(range.toString()).length;
  document.getElementById("mark-selected").textContent = range.toString();
});

// Words to check: Tab or the arrow keys move between them, "f" marks the focused one as PHI,
// "d" dismisses it. Each key submits that word's own form (the buttons in the table), so the
// keyboard does exactly what a click does; after the panes are swapped, focus goes to the
// next word still to check.
function suspects() { return Array.from(document.querySelectorAll("#raw-text mark.suspect")); }
let resumeAt = null;
document.addEventListener("keydown", function (event) {
  const mark = event.target.closest && event.target.closest("mark.suspect");
  if (!mark || event.ctrlKey || event.metaKey || event.altKey) return;
  const all = suspects();
  const i = all.indexOf(mark);
  if (event.key === "ArrowRight" || event.key === "ArrowDown") {
    event.preventDefault();
    (all[i + 1] || all[0]).focus();
  } else if (event.key === "ArrowLeft" || event.key === "ArrowUp") {
    event.preventDefault();
    (all[i - 1] || all[all.length - 1]).focus();
  } else if (event.key === "f" || event.key === "d") {
    const form = document.getElementById(
      "suspect-" + mark.dataset.suspect + (event.key === "f" ? "-mark" : "-dismiss"));
    if (!form) return;
    event.preventDefault();
    resumeAt = i;
    form.requestSubmit();
  }
});
document.body.addEventListener("htmx:afterSwap", function () {
  if (resumeAt === null) return;
  const all = suspects();
  if (all.length) all[Math.min(resumeAt, all.length - 1)].focus();
  resumeAt = null;
});
