// Reload the page every N seconds while the "refresh" box is ticked; the
// choice survives reloads (localStorage), so staff can switch it off.
(function () {
  const box = document.querySelector("[data-autorefresh]");
  if (!box) return;
  const key = "crosswalk.autorefresh";
  if (localStorage.getItem(key) === "off") box.checked = false;
  const seconds = parseInt(box.dataset.autorefresh, 10) || 5;
  let timer = null;
  function arm() {
    clearTimeout(timer);
    if (box.checked) timer = setTimeout(() => location.reload(), seconds * 1000);
  }
  box.addEventListener("change", () => {
    localStorage.setItem(key, box.checked ? "on" : "off");
    arm();
  });
  arm();
})();
