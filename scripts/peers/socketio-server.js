// One socket.io 4 server of the side-by-side benchmark (scripts/bench
// peers): rooms across servers through the Redis adapter, as a socket.io
// cluster is deployed. It neither stores nor orders messages; `ack` only
// says this server took the message, so the driver can count deliveries.
//   NODE_ID=s1 PORT=7401 REDIS_URL=redis://127.0.0.1:6399 node socketio-server.js
"use strict";
const { Server } = require("socket.io");
const { createAdapter } = require("@socket.io/redis-adapter");
const { createClient } = require("redis");

const id = process.env.NODE_ID || "s1";
const port = Number(process.env.PORT || 7401);
const url = process.env.REDIS_URL || "redis://127.0.0.1:6379";

async function main() {
  const pub = createClient({ url });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  const io = new Server(port, {
    adapter: createAdapter(pub, sub),
    transports: ["websocket"],
    serveClient: false,
    perMessageDeflate: false,
    maxHttpBufferSize: 64 * 1024,
  });
  io.on("connection", (socket) => {
    socket.on("join", (room) => {
      if (typeof room !== "string" || room.length > 64) return socket.emit("failed", "bad room");
      socket.join(room);
      socket.emit("joined", room);
      // Presence and typing, as a chat built on socket.io passes them on.
      socket.to(room).emit("presence", { room, name: socket.id, online: true });
    });
    socket.on("typing", (room) => {
      if (typeof room === "string" && socket.rooms.has(room)) socket.to(room).emit("typing", { room, name: socket.id });
    });
    socket.on("disconnecting", () => {
      for (const room of socket.rooms) {
        if (room !== socket.id) socket.to(room).emit("presence", { room, name: socket.id, online: false });
      }
    });
    socket.on("send", (m) => {
      if (!m || typeof m.room !== "string" || !socket.rooms.has(m.room)) return socket.emit("failed", "not joined");
      socket.to(m.room).emit("message", { room: m.room, id: m.id, author: socket.id, body: m.body, origin: id });
      socket.emit("ack", m.id);
    });
  });
  console.log(`socket.io ${id} listening on ${port}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
