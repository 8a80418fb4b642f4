// Web Push for meshchat: this browser subscribes with the mesh's VAPID key
// through the service worker's push manager and tells the node; sw.js shows
// what arrives. Called from the app (src/push.rs); every call answers a
// state: "on", "off", "denied", "unsupported", or "error: <why>".
(() => {
  const supported = () => "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
  const bytes = (b64) => {
    const s = atob(b64.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((b64.length + 3) % 4));
    return Uint8Array.from(s, (c) => c.charCodeAt(0));
  };
  const current = async () => {
    const reg = await navigator.serviceWorker.getRegistration();
    return reg ? reg.pushManager.getSubscription() : null;
  };
  const call = async (base, token, method, body) => {
    const r = await fetch(base + "/api/push/" + (body ? "subscriptions" : "key"), {
      method,
      headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
      body: body ? JSON.stringify(body) : undefined,
    });
    if (!r.ok) {
      const e = await r.json().catch(() => null);
      throw new Error((e && e.error && e.error.message) || "the node said " + r.status);
    }
    return r.status === 204 ? null : r.json();
  };
  const answer = (p) => p.catch((e) => "error: " + (e && e.message ? e.message : e));

  window.meshchatPush = {
    state: () =>
      answer(
        (async () => {
          if (!supported()) return "unsupported";
          if (Notification.permission === "denied") return "denied";
          return (await current()) ? "on" : "off";
        })(),
      ),
    enable: (base, token, preview) =>
      answer(
        (async () => {
          if (!supported()) return "unsupported";
          if ((await Notification.requestPermission()) !== "granted") return "denied";
          const { key } = await call(base, token, "GET");
          const reg = await navigator.serviceWorker.ready;
          let sub = await reg.pushManager.getSubscription();
          // Made with another key (another mesh, or a key replaced): anew.
          const had = sub && sub.options.applicationServerKey;
          if (had && btoa(String.fromCharCode(...new Uint8Array(had))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "") !== key) {
            await sub.unsubscribe();
            sub = null;
          }
          sub = sub || (await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: bytes(key) }));
          const j = sub.toJSON();
          await call(base, token, "POST", { endpoint: j.endpoint, p256dh: j.keys.p256dh, auth: j.keys.auth, key, preview: preview === "1" });
          return "on";
        })(),
      ),
    disable: (base, token) =>
      answer(
        (async () => {
          const sub = supported() ? await current() : null;
          if (sub) {
            if (token) await call(base, token, "DELETE", { endpoint: sub.endpoint }).catch(() => null);
            await sub.unsubscribe();
          }
          return "off";
        })(),
      ),
  };
})();
