// The baseline of bench/fanout.py and bench/idle.py: a WebSocket server as one would write it by
// hand with Node's `ws`, pushing the sidecar's snapshot to every client at a fixed interval.
//
//   PORT=3100 PAYLOAD_FILE=snapshot.json INTERVAL_MS=1000 [HEARTBEAT_MS=20000] node server.js
//
// PAYLOAD_FILE holds the sidecar's REST snapshot (its `data`); each push carries it with a new
// `snapshotId` and `timestamp` (when the push starts), stringified per client as typical code does.
//
// HEARTBEAT_MS (default 0: off) turns on dead-peer detection as ws's README shows it: every
// HEARTBEAT_MS each client is pinged, and one whose pong has not come back by the next round is
// terminated. The contract requires dropping dead peers; the sidecar pings every 20 s and drops a
// peer silent 20 s after a ping, so HEARTBEAT_MS=20000 is the like-for-like baseline.
"use strict";

const fs = require("fs");
const { WebSocketServer, WebSocket } = require("ws");

const host = process.env.HOST || "127.0.0.1";
const port = Number(process.env.PORT || 3100);
const intervalMs = Number(process.env.INTERVAL_MS || 1000);
const heartbeatMs = Number(process.env.HEARTBEAT_MS || 0);
const data = JSON.parse(fs.readFileSync(process.env.PAYLOAD_FILE, "utf8"));

const wss = new WebSocketServer({
  host,
  port,
  path: "/ws/metrics",
  perMessageDeflate: false,
  maxPayload: 64 * 1024,
  backlog: 2048,
});

let snapshotId = 0;
let latest = null;

function push() {
  snapshotId += 1;
  latest = { ...data, snapshotId, timestamp: new Date().toISOString() };
  for (const client of wss.clients) {
    if (client.readyState === WebSocket.OPEN) {
      client.send(JSON.stringify({ type: "metrics", data: latest }));
    }
  }
}

function heartbeat() {
  for (const client of wss.clients) {
    if (client.isAlive === false) {
      client.terminate();
      continue;
    }
    client.isAlive = false;
    client.ping();
  }
}

wss.on("connection", (socket) => {
  socket.isAlive = true;
  socket.on("pong", () => {
    socket.isAlive = true;
  });
  if (latest !== null) {
    socket.send(JSON.stringify({ type: "metrics", data: latest }));
  }
  socket.on("message", (message) => {
    let request = null;
    try {
      request = JSON.parse(message);
    } catch (err) {
      request = null;
    }
    if (request && request.type === "ping") {
      socket.send(JSON.stringify({ type: "pong" }));
    }
  });
  socket.on("error", () => {});
});

wss.on("listening", () => {
  console.log(`listening on ${host}:${port}`);
  setInterval(push, intervalMs);
  if (heartbeatMs > 0) {
    setInterval(heartbeat, heartbeatMs);
  }
});
