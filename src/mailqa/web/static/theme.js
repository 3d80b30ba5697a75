// Applied before first paint: the saved theme choice ("light" | "dark"), else the system's.
(function () {
  try {
    var saved = localStorage.getItem("mailqa-theme");
    if (saved === "light" || saved === "dark") document.documentElement.dataset.theme = saved;
  } catch (e) { /* storage blocked: follow the system */ }
})();
