#!/usr/bin/env python3
"""The summary of scripts/bench-kinesis.sh: its JSON lines in, a Markdown table out.

    scripts/bench-kinesis-summary.py RESULTS.jsonl

PutRecords: per server and concurrency, the medians over the rounds of records/s, p50/p99 ms
and the server's CPU µs per record, with the load averages seen; then Alleycat against the
baseline build when one ran (BASELINE=...), and #18's bars on the server's cost (Alleycat's CPU per record at most 1/20 of kinesalite's and 1/4 of ferrokinesis'
in memory, at every concurrency). SubscribeToShard: p50/p99 delivery latency per server.
"""
import json
import statistics
import sys
from collections import defaultdict

KINESALITE_FACTOR = 20
FERROKINESIS_FACTOR = 4


def load(path):
    with open(path) as lines:
        return [json.loads(line) for line in lines if line.startswith("{")]


def median(runs, key):
    return statistics.median(run[key] for run in runs)


def loads(runs):
    return ", ".join(run["loadavg"].split()[0] for run in runs)


def put_table(runs):
    groups = defaultdict(list)
    for run in runs:
        groups[(run["concurrency"], run["label"])].append(run)
    print("| server | concurrency | records/s | p50 ms | p99 ms | server CPU µs/record | runs | load (1 min) |")
    print("|---|---|---|---|---|---|---|---|")
    for (concurrency, label), group in sorted(groups.items()):
        print(
            f"| {label} | {concurrency} | {median(group, 'records_per_s'):,.0f} "
            f"| {median(group, 'p50_ms'):.1f} | {median(group, 'p99_ms'):.1f} "
            f"| {median(group, 'server_cpu_us_per_record'):.2f} | {len(group)} | {loads(group)} |"
        )
    return {key: median(group, "server_cpu_us_per_record") for key, group in groups.items()}


def bars(cpu):
    print()
    for concurrency in sorted({c for c, _ in cpu}):
        alleycat = cpu.get((concurrency, "alleycat"))
        if not alleycat:
            continue
        baseline = cpu.get((concurrency, "alleycat-baseline"))
        if baseline is not None:
            print(f"- concurrency {concurrency}: Alleycat CPU per record {alleycat:.2f} µs against the baseline's {baseline:.2f} µs ({100 * (alleycat / baseline - 1):+.0f} %)")
        for other, factor in (("kinesalite", KINESALITE_FACTOR), ("ferrokinesis", FERROKINESIS_FACTOR)):
            theirs = cpu.get((concurrency, other))
            if theirs is None:
                continue
            ratio = theirs / alleycat
            verdict = "met" if ratio >= factor else "NOT met"
            print(f"- concurrency {concurrency}: {other} / Alleycat CPU per record = {ratio:.1f}× (bar {factor}×: {verdict})")
        durable = cpu.get((concurrency, "ferrokinesis-durable"))
        if durable is not None:
            print(f"- concurrency {concurrency}: ferrokinesis --state-dir / Alleycat = {durable / alleycat:.1f}× (durable, like for like)")


def subscribe_table(runs):
    groups = defaultdict(list)
    for run in runs:
        groups[run["label"]].append(run)
    print()
    print("| server | SubscribeToShard p50 ms | p99 ms | records | runs | load (1 min) |")
    print("|---|---|---|---|---|---|")
    for label, group in groups.items():
        print(
            f"| {label} | {median(group, 'p50_ms'):.1f} | {median(group, 'p99_ms'):.1f} "
            f"| {group[0]['records']} | {len(group)} | {loads(group)} |"
        )


def main():
    runs = load(sys.argv[1])
    puts = [run for run in runs if "records_per_s" in run]
    subscribes = [run for run in runs if run.get("bench") == "subscribe_latency"]
    bars(put_table(puts))
    if subscribes:
        subscribe_table(subscribes)


if __name__ == "__main__":
    main()
