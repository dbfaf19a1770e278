#!/usr/bin/env python3
"""Prints Markdown tables of benchmark results for bench/README.md.

Takes the JSON files that throughput_bench, routing_bench and latency_bench
write with --benchmark_out=FILE --benchmark_out_format=json and prints one
table per kind of figure: throughput (deliveries/s, delivered bytes/s, ratio
to the raw queue), routing (ns per publish, us per bind) and latency (p50,
p99, p99.9). Skipped cases are listed with their reason.

Usage: bench/results_table.py results/throughput.json results/routing.json ...
"""
import json
import sys


def si(value, unit=""):
    for factor, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= factor:
            return f"{value / factor:.3g} {prefix}{unit}".rstrip()
    return f"{value:.3g} {unit}".rstrip()


def ratio(value):
    return "" if value is None else f"{value:.3g}"


def name_of(entry):
    # Google Benchmark appends how the case was timed; the table does not need it.
    return entry["name"].replace("/manual_time", "").replace("/iterations:1", "").replace(
        "/iterations:6", "")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    throughput, routing, latency, skipped = [], [], [], []
    for path in sys.argv[1:]:
        with open(path) as f:
            for entry in json.load(f)["benchmarks"]:
                if entry.get("error_occurred"):
                    skipped.append(f"| `{name_of(entry)}` | {entry.get('error_message', '')} |")
                elif entry.get("run_type") != "iteration":
                    continue
                elif "p50_ns" in entry:
                    latency.append(
                        f"| `{name_of(entry)}` | {entry['p50_ns'] / 1e3:.3g} | "
                        f"{entry['p99_ns'] / 1e3:.3g} | {entry['p999_ns'] / 1e3:.3g} | "
                        f"{ratio(entry.get('p50_vs_raw'))} |")
                elif "us/bind" in entry:
                    routing.append(f"| `{name_of(entry)}` | | {entry['us/bind']:.3g} us/bind |")
                elif "ns/publish" in entry:
                    routing.append(f"| `{name_of(entry)}` | {entry['ns/publish']:.4g} | "
                                   f"{ratio(entry.get('vs_raw'))} |")
                elif "deliveries/s" in entry:
                    throughput.append(
                        f"| `{name_of(entry)}` | {si(entry['deliveries/s'])} | "
                        f"{si(entry['bytes/s'], 'B/s')} | {ratio(entry.get('vs_raw'))} |")
    if throughput:
        print("| case | deliveries/s | delivered bytes/s | vs_raw |\n| --- | --- | --- | --- |")
        print("\n".join(throughput), end="\n\n")
    if routing:
        print("| case | ns per publish | vs_raw (rate) |\n| --- | --- | --- |")
        print("\n".join(routing), end="\n\n")
    if latency:
        print("| case | p50 us | p99 us | p99.9 us | p50 vs raw |\n| --- | --- | --- | --- | --- |")
        print("\n".join(latency), end="\n\n")
    if skipped:
        print("| skipped | why |\n| --- | --- |")
        print("\n".join(skipped))


if __name__ == "__main__":
    main()
