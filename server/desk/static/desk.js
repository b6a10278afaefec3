// Small desk behaviours that need no library: nothing here is required to use a page.
document.addEventListener("keydown", (event) => {
  // Pages mark their own shortcuts with data-key="ArrowRight" etc. on a link or button.
  if (event.target.closest("input, textarea, select")) return;
  const target = document.querySelector(`[data-key="${event.key}"]`);
  if (target) { event.preventDefault(); target.click(); }
});
