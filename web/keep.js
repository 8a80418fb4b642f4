// The rooms this browser keeps for reading with no node reachable
// (src/keep.rs): IndexedDB, one record per person and room, holding the
// room as JSON. Cleared for a person at sign-out.
(function () {
  var DB = "meshchat";
  var STORE = "rooms";
  var db = null;
  function open() {
    return new Promise(function (ok, fail) {
      var req = indexedDB.open(DB, 1);
      req.onupgradeneeded = function () {
        req.result.createObjectStore(STORE, { keyPath: ["user", "room"] }).createIndex("user", "user");
      };
      req.onsuccess = function () { ok(req.result); };
      req.onerror = function () { fail(req.error); };
    });
  }
  function store(mode) {
    if (!db) db = open();
    return db.then(function (d) { return d.transaction(STORE, mode).objectStore(STORE); });
  }
  function done(req) {
    return new Promise(function (ok, fail) {
      req.onsuccess = function () { ok(req.result); };
      req.onerror = function () { fail(req.error); };
    });
  }
  window.meshchatKeep = {
    put: function (user, room, json) {
      return store("readwrite").then(function (s) { return done(s.put({ user: user, room: room, json: json })); });
    },
    all: function (user) {
      return store("readonly")
        .then(function (s) { return done(s.index("user").getAll(user)); })
        .then(function (rows) { return rows.map(function (r) { return r.json; }); });
    },
    forget: function (user) {
      return store("readwrite").then(function (s) {
        return done(s.index("user").getAllKeys(user)).then(function (keys) {
          return Promise.all(keys.map(function (k) { return done(s.delete(k)); }));
        });
      });
    },
  };
})();
