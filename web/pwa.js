// Installs the service worker (sw.js) and offers a new version once it is
// ready: "Reload to update" takes it, a whole shell at once. Plain DOM, no
// HTML strings.
(function () {
  if (!("serviceWorker" in navigator)) return;
  function offer(worker) {
    if (document.getElementById("update-offer")) return;
    var bar = document.createElement("div");
    bar.id = "update-offer";
    bar.className = "update-offer";
    bar.setAttribute("role", "status");
    var text = document.createElement("span");
    text.textContent = "A new version of meshchat is ready.";
    var button = document.createElement("button");
    button.type = "button";
    button.textContent = "Reload to update";
    button.addEventListener("click", function () {
      worker.postMessage("update");
    });
    bar.appendChild(text);
    bar.appendChild(button);
    document.body.appendChild(bar);
  }
  var reloading = false;
  navigator.serviceWorker.addEventListener("controllerchange", function () {
    // Only a worker the person took replaces a running one: reload into it.
    if (reloading || !window.__meshchatHadController) return;
    reloading = true;
    location.reload();
  });
  window.__meshchatHadController = !!navigator.serviceWorker.controller;
  // Once the page has loaded: a first visit's worker fetches the whole
  // shell (the screens loaded on demand too), which must not compete with
  // the app's own first load.
  function register() {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).then(installed).catch(function () {});
  }
  if (document.readyState === "complete") register();
  else window.addEventListener("load", register);
  function installed(reg) {
    if (reg.waiting && navigator.serviceWorker.controller) offer(reg.waiting);
    reg.addEventListener("updatefound", function () {
      var next = reg.installing;
      if (!next) return;
      next.addEventListener("statechange", function () {
        if (next.state === "installed" && navigator.serviceWorker.controller) offer(next);
      });
    });
    // A tab left open all day looks for a new version now and then.
    setInterval(function () { reg.update().catch(function () {}); }, 60 * 60 * 1000);
  }
})();
