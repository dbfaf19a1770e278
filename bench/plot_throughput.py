#!/usr/bin/python3
"""Plots throughput against consumers and against fanout width.

Reads the JSON that throughput_bench writes with --benchmark_out=FILE
--benchmark_out_format=json (or --benchmark_format=json), takes the
consumers/* and fanout/* cases, and writes a PNG with three panels:
deliveries per second against competing consumers (64 B), and against
fanout width at 64 B and at 4 KiB. Needs Debian's python3-matplotlib,
hence /usr/bin/python3.

Usage: bench/plot_throughput.py results/throughput.json throughput.png
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)

STYLE = {
    "raw": ("raw moodycamel queue", "k", "o"),
    "warren": ("warren", "tab:red", "s"),
    "mutex_condvar": ("mutex + condvar", "tab:blue", "^"),
    "zmq_push_pull": ("ZeroMQ PUSH/PULL", "tab:green", "v"),
    "zmq_pub_sub": ("ZeroMQ PUB/SUB", "tab:green", "v"),
    "rabbitmq": ("RabbitMQ (loopback)", "tab:purple", "D"),
}


def load(path):
    """{group: {transport: {size: {x: deliveries/s}}}} from the iteration runs."""
    with open(path) as f:
        benchmarks = json.load(f)["benchmarks"]
    series = {}
    for b in benchmarks:
        if b.get("run_type") != "iteration" or b.get("error_occurred") or "deliveries/s" not in b:
            continue
        parts = b["name"].split("/")
        group, transport, size = parts[0], parts[1], parts[2]
        if group == "consumers":
            x = int(parts[3].split("x")[1])  # "1x4": four consumers
        elif group == "fanout":
            x = int(parts[4].removeprefix("fanout"))
        else:
            continue
        series.setdefault(group, {}).setdefault(transport, {}).setdefault(size, {})[x] = (
            b["deliveries/s"])
    return series


def panel(axis, lines, size, xlabel, title):
    for transport, by_size in sorted(lines.items()):
        points = sorted(by_size.get(size, {}).items())
        if not points:
            continue
        label, color, marker = STYLE.get(transport, (transport, None, "x"))
        axis.plot([x for x, _ in points], [y for _, y in points], label=label, color=color,
                  marker=marker)
    axis.set_xscale("log", base=2)
    axis.set_yscale("log")
    axis.set_xlabel(xlabel)
    axis.set_ylabel("deliveries per second")
    axis.set_title(title)
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(fontsize="small")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    series = load(sys.argv[1])
    figure, axes = plt.subplots(1, 3, figsize=(16, 5))
    panel(axes[0], series.get("consumers", {}), "64B", "competing consumers (one producer)",
          "Throughput against consumers, 64 B")
    panel(axes[1], series.get("fanout", {}), "64B", "queues each message reaches",
          "Throughput against fanout width, 64 B")
    panel(axes[2], series.get("fanout", {}), "4KiB", "queues each message reaches",
          "Throughput against fanout width, 4 KiB")
    figure.tight_layout()
    figure.savefig(sys.argv[2], dpi=100)


if __name__ == "__main__":
    main()
