// meshchat's service worker: the app shell from its own cache, and a new
// version only whole. scripts/build-web fills in VERSION (a hash of the
// build's inputs) and SHELL (every file of the build): a new build is a new
// worker, which the browser installs beside the running one.
const VERSION = "__VERSION__";
const SHELL = __SHELL__;
const CACHE = "meshchat-shell-" + VERSION;

// All or nothing: a shell missing one file is never installed.
self.addEventListener("install", (e) => {
  e.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)));
  // No skipWaiting here: a page keeps the version it loaded until the
  // person takes the new one (the page offers it; see pwa.js).
});

self.addEventListener("activate", (e) => {
  e.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith("meshchat-shell-") && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("message", (e) => {
  if (e.data === "update") self.skipWaiting();
});

// The node's API, socket, files and metrics always go to the network.
const live = (path) =>
  path.startsWith("/api/") || path === "/ws" || path.startsWith("/files/") || path === "/metrics" || path === "/sw.js";

self.addEventListener("fetch", (e) => {
  const req = e.request;
  const url = new URL(req.url);
  if (req.method !== "GET" || url.origin !== self.location.origin || live(url.pathname)) return;
  if (req.mode === "navigate") {
    // The page this shell was built with, whatever the path (the app
    // routes itself): the page and its files always match.
    e.respondWith(caches.open(CACHE).then((c) => c.match("/", { ignoreVary: true })).then((r) => r || fetch(req)));
    return;
  }
  // ignoreVary: the node varies its answers on Origin and Accept-Encoding,
  // and a module script's request carries an Origin the precache's did not.
  e.respondWith(caches.open(CACHE).then((c) => c.match(req, { ignoreVary: true })).then((r) => r || fetch(req)));
});

// A push from the node that took a mention or direct message (see
// server/src/push): who, where, and the text if the person opted in. Shown
// as a notification (text only: the system never renders it as markup).
self.addEventListener("push", (e) => {
  let p = {};
  try {
    p = e.data ? e.data.json() : {};
  } catch (_) {}
  const room = typeof p.room === "string" ? p.room : "";
  const author = typeof p.author === "string" && p.author ? p.author : "Someone";
  const title = p.dm ? author + " wrote to you" : author + " mentioned you in #" + room;
  const body = typeof p.text === "string" ? p.text : "Open meshchat to read it.";
  e.waitUntil(self.registration.showNotification(title, { body, tag: "meshchat-" + room, data: { room } }));
});

// A click brings the app forward (or opens it) at the room.
self.addEventListener("notificationclick", (e) => {
  e.notification.close();
  const room = (e.notification.data && e.notification.data.room) || "";
  e.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((cs) => {
      const c = cs.find((c) => new URL(c.url).origin === self.location.origin);
      if (c) {
        c.postMessage({ open: room });
        return c.focus();
      }
      return self.clients.openWindow("/");
    }),
  );
});
