// Behaviour every page shares (templates/base.html). No inline handlers: the
// Content-Security-Policy allows scripts from our own static files only.

// <form data-confirm="Delete this?">: ask before submitting.
document.addEventListener("submit", function (event) {
  const question = event.target.dataset && event.target.dataset.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});
