/** A uPlot line chart of a few series over time (x in seconds since the epoch). */
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export interface Series {
  label: string;
  values: (number | null)[];
  color: string;
  format?: (v: number) => string;
}

/** `range`: the x axis span in seconds (a window of days), so one point does not stretch the axis over years. */
export function LineChart({ x, series, range, height = 220, id }: { x: number[]; series: Series[]; range?: [number, number]; height?: number; id?: string }) {
  const el = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!el.current) return;
    const width = Math.max(320, el.current.clientWidth || 600);
    const plot = new uPlot(
      {
        width,
        height,
        scales: { x: range ? { time: true, range: () => range } : { time: true } },
        series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, points: { show: true }, value: (_u: uPlot, v: number | null) => (v == null ? "—" : s.format ? s.format(v) : String(v)) }))],
        axes: [{}, { size: 70, values: (_u: uPlot, ticks: number[]) => ticks.map((t) => (series[0]?.format ? series[0].format(t) : String(t))) }],
      },
      [x, ...series.map((s) => s.values)] as uPlot.AlignedData,
      el.current,
    );
    return () => plot.destroy();
  }, [JSON.stringify([x, range, series.map((s) => [s.label, s.values])])]);
  return <div class="chart" id={id} ref={el} />;
}
