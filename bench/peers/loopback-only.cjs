// Preloaded into Portkey's own bin (`node -r ./loopback-only.cjs …/start-server.js`): its bin calls
// `serve({ fetch, port })` with no hostname, which would listen on every interface. The bench binds
// everything to 127.0.0.1, so a listen(port) without a host gets 127.0.0.1.
const net = require("node:net");
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === "number" && typeof args[1] !== "string") args.splice(1, 0, "127.0.0.1");
  else if (args[0] && typeof args[0] === "object" && args[0].port !== undefined && !args[0].host) args[0] = { ...args[0], host: "127.0.0.1" };
  return listen.apply(this, args);
};
