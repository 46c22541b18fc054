/**
 * What both fan-out server children answer over IPC: their CPU time and RSS (sampled for the peak),
 * a CPU profile of a window (node:inspector, so only that window is profiled, not the setup), and
 * heap snapshots on request (BENCH_FANOUT_HEAP_SNAPSHOTS=1: before and after subscribing).
 */
import { Session } from "node:inspector";
import { writeFileSync } from "node:fs";
import { getHeapSpaceStatistics, writeHeapSnapshot } from "node:v8";

export function serveFanoutStats(onStop: () => Promise<void>): void {
  let peakRss = process.memoryUsage().rss;
  const sample = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object) =>
    new Promise<any>((resolve, reject) => session.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res))));
  process.on("message", async (m: { cmd: string; file?: string }) => {
    if (m.cmd === "usage") {
      const { rss, heapUsed, heapTotal, external, arrayBuffers } = process.memoryUsage();
      peakRss = Math.max(peakRss, rss);
      // Per V8 heap space, MB committed (reserved) and used: where heapTotal exceeds heapUsed.
      const spaces: Record<string, { committed: number; used: number }> = {};
      for (const s of getHeapSpaceStatistics())
        spaces[s.space_name] = { committed: Math.round(s.physical_space_size / 1048576), used: Math.round(s.space_used_size / 1048576) };
      process.send!({ cpu: process.cpuUsage(), rss, peakRss, heapUsed, heapTotal, external: external + arrayBuffers, spaces });
    } else if (m.cmd === "reset-peak") {
      peakRss = process.memoryUsage().rss;
      process.send!({ ok: true });
    } else if (m.cmd === "profile-start") {
      await post("Profiler.enable");
      await post("Profiler.setSamplingInterval", { interval: 500 });
      await post("Profiler.start");
      process.send!({ ok: true });
    } else if (m.cmd === "profile-stop") {
      const { profile } = await post("Profiler.stop");
      writeFileSync(m.file!, JSON.stringify(profile));
      process.send!({ file: m.file });
    } else if (m.cmd === "heap-snapshot") {
      process.send!({ file: writeHeapSnapshot(m.file!) });
    } else if (m.cmd === "stop") {
      clearInterval(sample);
      session.disconnect();
      await onStop();
      process.exit(0);
    }
  });
}
