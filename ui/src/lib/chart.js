// Lag charts with uPlot: bytes (left axis) and seconds (right axis) over time, live.
import uPlot from "uplot";
import { bytes, seconds } from "./format.js";

export function lagChart(container, title) {
  const data = [[], [], []];
  const width = () => Math.max(280, container.clientWidth || 360);
  const plot = new uPlot({
    title, width: width(), height: 180,
    scales: { x: { time: true }, b: {}, s: {} },
    axes: [
      { stroke: "currentColor", grid: { stroke: "rgba(128,128,128,0.15)" } },
      { scale: "b", stroke: "currentColor", values: (u, v) => v.map((x) => bytes(x)), size: 70,
        grid: { stroke: "rgba(128,128,128,0.15)" } },
      { scale: "s", side: 1, stroke: "currentColor", values: (u, v) => v.map((x) => seconds(x)), size: 60,
        grid: { show: false } },
    ],
    series: [
      {},
      { label: "lag bytes", scale: "b", stroke: "#0969da", width: 2, value: (u, v) => (v == null ? "–" : bytes(v)) },
      { label: "lag seconds", scale: "s", stroke: "#bf8700", width: 1, value: (u, v) => (v == null ? "–" : seconds(v)) },
    ],
  }, data, container);
  return {
    plot,
    set(points) { // [[epoch, bytes, seconds]]
      data[0] = points.map((p) => p[0]);
      data[1] = points.map((p) => p[1]);
      data[2] = points.map((p) => p[2]);
      plot.setData(data);
    },
    add(t, b, s) {
      data[0].push(t); data[1].push(b); data[2].push(s);
      if (data[0].length > 720) for (const a of data) a.shift();
      plot.setData(data);
    },
    points: () => data[0].length,
    resize() { plot.setSize({ width: width(), height: 180 }); },
    destroy() { plot.destroy(); },
  };
}
