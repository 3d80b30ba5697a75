// Applied before first paint: the saved theme choice ("light" | "dark"), else the system's,
// followed live until the user picks one with the toggle.
(function () {
  var root = document.documentElement;
  var system = matchMedia("(prefers-color-scheme: dark)");
  function saved() {
    try {
      var choice = localStorage.getItem("mailqa-theme");
      return choice === "light" || choice === "dark" ? choice : null;
    } catch (e) {
      return null; // storage blocked: follow the system
    }
  }
  function apply() {
    root.dataset.theme = saved() || (system.matches ? "dark" : "light");
  }
  apply();
  system.addEventListener("change", apply);
})();
