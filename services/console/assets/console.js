// The console's own script, kept out of the pages so the Content-Security-Policy can
// forbid inline script. Pages work without it.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-print]");
  if (button) {
    event.preventDefault();
    window.print();
  }
});
