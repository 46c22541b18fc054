/**
 * Counts the commands Redis executes that mention `needle`, through MONITOR on a plain socket.
 *
 * Not ioredis's `monitor()`: when MONITOR's `+OK` and the first monitored line arrive in one TCP
 * read (a loaded machine), ioredis parses the line before it has switched the connection into
 * monitoring mode and throws "Command queue state error" (failed CI). Here every line after the
 * `+OK` is a monitored command, whatever read it came in.
 */
import net from "node:net";

export interface RedisMonitor {
  /** Commands seen so far that mention the needle. */
  count(): number;
  close(): void;
}

/** MONITOR on a plain socket: `onLine` gets every monitored line; resolves once Redis said `+OK`. */
export async function monitorLines(url: string, onLine: (line: string) => void): Promise<{ close(): void }> {
  const { hostname, port } = new URL(url);
  const socket = net.connect(Number(port || 6379), hostname || "127.0.0.1");
  let buffered = "";
  let ok = false;
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.on("data", (chunk) => {
      buffered += chunk.toString("utf8");
      let nl: number;
      while ((nl = buffered.indexOf("\r\n")) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 2);
        if (!ok) {
          if (line !== "+OK") return reject(new Error(`MONITOR refused: ${line}`));
          ok = true;
          resolve();
        } else onLine(line);
      }
    });
    socket.write("MONITOR\r\n");
  });
  socket.on("error", () => undefined);
  return { close: () => socket.destroy() };
}

/** Counts the monitored commands that mention `needle`. */
export async function monitorRedis(url: string, needle: string): Promise<RedisMonitor> {
  let seen = 0;
  const m = await monitorLines(url, (line) => {
    if (line.includes(needle)) seen++;
  });
  return { count: () => seen, close: () => m.close() };
}
