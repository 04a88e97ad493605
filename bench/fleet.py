"""The fleet measured (interface §7); driven by bench/fleet.sh, which builds the binary,
starts PostgreSQL and the origin, and passes their addresses in the environment.

Prints, for one run on this machine:
  propagation   a response headers policy updated through node 0's API, until node 1's
                edge serves the new header: p50/p99 over WRITES writes
  invalidation  CreateInvalidation through node 0 of a fleet of NODES nodes, until
                GetInvalidation reads Completed: p50/p99 over INVALIDATIONS
  tiers         wrk on a POP: a local hit, a hit on the regional cache's own node (the POP
                keeps nothing: its cache is smaller than the object), an origin fetch
  fleet cost    1 KiB hits on one node alone (embedded store) vs the same node in a
                fleet of NODES nodes on PostgreSQL
Never fails on the numbers.
"""

import http.client
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time

import boto3
from botocore.config import Config

BIN = os.environ["CACHALOT_BIN"]
STORE = os.environ["FLEET_STORE"]
ORIGIN = os.environ["FLEET_ORIGIN"]
WORK = os.environ["WORK"]
NODES = int(os.environ.get("NODES", "10"))
WRITES = int(os.environ.get("WRITES", "200"))
INVALIDATIONS = int(os.environ.get("INVALIDATIONS", "100"))
DURATION = os.environ.get("DURATION", "10s")
CONNECTIONS = os.environ.get("CONNECTIONS", "64")
HOST = "d0bench0fleet1.cloudfront.net"
DIST = "E0BENCH0FLEET1"
POLICY = "00000000-0000-0000-0000-00000000f1ee"
CACHE_POLICY = "00000000-0000-0000-0000-0000000bec0a"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, what):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"{what}: nothing listens on {port}")


def resources():
    return {
        "Distributions": [
            {
                "Id": DIST,
                "DomainName": HOST,
                "DistributionConfig": {
                    "CallerReference": "bench-fleet",
                    "Comment": "fleet benchmark",
                    "Enabled": True,
                    "Origins": {
                        "Quantity": 1,
                        "Items": [
                            {
                                "Id": "origin",
                                "DomainName": "origin.bench.internal",
                                "CustomOriginConfig": {
                                    "HTTPPort": 80,
                                    "HTTPSPort": 443,
                                    "OriginProtocolPolicy": "http-only",
                                },
                            }
                        ],
                    },
                    "DefaultCacheBehavior": {
                        "TargetOriginId": "origin",
                        "ViewerProtocolPolicy": "allow-all",
                        "CachePolicyId": CACHE_POLICY,
                        "ResponseHeadersPolicyId": POLICY,
                    },
                },
            }
        ],
        "CachePolicies": [
            {
                "Id": CACHE_POLICY,
                "CachePolicyConfig": {
                    "Name": "bench-optimized-with-query",
                    "DefaultTTL": 86400,
                    "MaxTTL": 31536000,
                    "MinTTL": 1,
                    "ParametersInCacheKeyAndForwardedToOrigin": {
                        "EnableAcceptEncodingGzip": False,
                        "EnableAcceptEncodingBrotli": False,
                        "HeadersConfig": {"HeaderBehavior": "none"},
                        "QueryStringsConfig": {"QueryStringBehavior": "all"},
                        "CookiesConfig": {"CookieBehavior": "none"},
                    },
                },
            }
        ],
        "ResponseHeadersPolicies": [
            {
                "Id": POLICY,
                "ResponseHeadersPolicyConfig": headers_policy(0),
            }
        ],
    }


def headers_policy(version):
    return {
        "Name": "bench-fleet-version",
        "CustomHeadersConfig": {
            "Quantity": 1,
            "Items": [{"Header": "X-Fleet-Version", "Value": str(version), "Override": True}],
        },
    }


STARTED = []


class Node:
    def __init__(self, name, pops, store=STORE, regional=None):
        self.name = name
        self.dir = os.path.join(WORK, name)
        os.makedirs(self.dir, exist_ok=True)
        self.admin = free_port()
        self.pops = {}
        items = []
        for pop_id, region, cache_size in pops:
            port = free_port()
            self.pops[pop_id] = port
            item = {"Id": pop_id, "Listen": f"127.0.0.1:{port}", "Region": region}
            if cache_size:
                item["CacheSize"] = cache_size
            items.append(item)
        config = {
            "Node": {"Id": name},
            "Pops": items,
            "Admin": f"127.0.0.1:{self.admin}",
            "OriginAddresses": {"origin.bench.internal": ORIGIN},
        }
        if regional:
            self.regional = free_port()
            config["RegionalCaches"] = [{"Region": regional, "Listen": f"127.0.0.1:{self.regional}"}]
        config.update(resources())
        with open(os.path.join(self.dir, "node.json"), "w") as f:
            json.dump(config, f)
        args = [BIN, "serve", "--config", "node.json", "--state", "state"]
        if store:
            args += ["--store", store]
        self.log = open(os.path.join(self.dir, "serve.log"), "w")
        # The nodes share core 0 with PostgreSQL; wrk and this driver get core 1.
        self.process = subprocess.Popen(["taskset", "-c", "0", *args], cwd=self.dir, stdout=self.log, stderr=self.log)
        STARTED.append(self)
        wait_port(self.admin, name)
        for port in self.pops.values():
            wait_port(port, name)

    def client(self, service):
        return boto3.client(
            service,
            endpoint_url=f"http://127.0.0.1:{self.admin}",
            region_name="us-east-1",
            aws_access_key_id="AKIDEXAMPLE",
            aws_secret_access_key="secret",
            config=Config(retries={"max_attempts": 1}),
        )

    def stop(self):
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def percentiles(samples):
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
    return p50, p99


def ms(seconds):
    return f"{seconds * 1000:.1f} ms"


def report(line):
    print(line, flush=True)
    with open(os.path.join(WORK, "results.txt"), "a") as f:
        f.write(line + "\n")


def wait_fleet(node, count):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        conn = http.client.HTTPConnection("127.0.0.1", node.admin, timeout=5)
        conn.request("GET", "/fleet")
        body = json.loads(conn.getresponse().read())
        conn.close()
        nodes = body.get("Nodes", [])
        if len(nodes) >= count and all(n.get("Alive") for n in nodes):
            return
        time.sleep(0.1)
    sys.exit(f"the fleet did not reach {count} live nodes")


def propagation(writer, reader):
    cf = writer.client("cloudfront")
    pop = next(iter(reader.pops.values()))
    conn = http.client.HTTPConnection("127.0.0.1", pop, timeout=5)

    def served_version():
        conn.request("GET", "/1k.bin", headers={"Host": HOST})
        resp = conn.getresponse()
        resp.read()
        return resp.getheader("X-Fleet-Version")

    samples, acks = [], []
    for version in range(1, WRITES + 1):
        etag = cf.get_response_headers_policy_config(Id=POLICY)["ETag"]
        started = time.monotonic()
        cf.update_response_headers_policy(
            Id=POLICY, IfMatch=etag, ResponseHeadersPolicyConfig=headers_policy(version)
        )
        acks.append(time.monotonic() - started)
        deadline = started + 10
        while served_version() != str(version):
            if time.monotonic() > deadline:
                sys.exit(f"write {version} was not served by {reader.name} within 10 s")
            time.sleep(0.001)
        samples.append(time.monotonic() - started)
    p50, p99 = percentiles(samples)
    a50, a99 = percentiles(acks)
    report(f"propagation ({WRITES} writes, write on {writer.name} -> served by {reader.name}): "
           f"p50 {ms(p50)}  p99 {ms(p99)}   (the write's own round trip: p50 {ms(a50)}  p99 {ms(a99)})")


def invalidation(node, fleet_size):
    cf = node.client("cloudfront")
    samples = []
    for i in range(INVALIDATIONS):
        started = time.monotonic()
        created = cf.create_invalidation(
            DistributionId=DIST,
            InvalidationBatch={"Paths": {"Quantity": 1, "Items": [f"/inv-{i}"]}, "CallerReference": f"bench-{i}-{time.time_ns()}"},
        )
        inv = created["Invalidation"]["Id"]
        deadline = started + 30
        while cf.get_invalidation(DistributionId=DIST, Id=inv)["Invalidation"]["Status"] != "Completed":
            if time.monotonic() > deadline:
                sys.exit(f"invalidation {inv} not Completed within 30 s")
            time.sleep(0.005)
        samples.append(time.monotonic() - started)
    p50, p99 = percentiles(samples)
    report(f"invalidation ({INVALIDATIONS} invalidations, {fleet_size} nodes, until Completed): p50 {ms(p50)}  p99 {ms(p99)}")


def wrk(name, port, path, script=None):
    args = ["taskset", "-c", "1", "wrk", "-t1", f"-c{CONNECTIONS}", f"-d{DURATION}", "--latency", "-H", f"Host: {HOST}"]
    if script:
        args += ["-s", script]
    out = subprocess.run([*args, f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True, check=True).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    line = f"{name:<44} {float(rps.group(1)) if rps else 0:>10.0f} req/s   p99 {p99.group(1) if p99 else '?'}"
    if errors:
        line += f"   ({errors.group(1)} non-2xx)"
    report(line)


def get(port, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", path, headers={"Host": HOST, "Pragma": "server-timing"})
    resp = conn.getresponse()
    resp.read()
    conn.close()
    if resp.status != 200:
        sys.exit(f"GET {path} on {port}: {resp.status}")
    return resp


def main():
    if os.path.isdir(WORK):
        shutil.rmtree(WORK)
    os.makedirs(WORK)
    miss_script = os.path.join(WORK, "miss.lua")
    with open(miss_script, "w") as f:
        f.write('local n = 0\nrequest = function()\n    n = n + 1\n    return wrk.format(nil, "/1k.bin?n=" .. n)\nend\n')

    alone_hits("1 KiB hit, one node alone (embedded store)", "alone-before")

    # The fleet: node-0 hosts the regional cache of eu-west-2; node-1 has a POP that keeps
    # nothing (its cache is smaller than four times the object), one that keeps what it
    # fetches, and one in a region no node serves (misses go to the origin through the
    # node's own regional tier); the others have one POP each.
    nodes = [Node("node-0", [("NODE0-C1", "us-east-1", None)], regional="eu-west-2")]
    nodes.append(
        Node(
            "node-1",
            [("TINY50-C1", "eu-west-2", "1KiB"), ("LOCAL50-C1", "eu-west-2", None), ("FAR50-C1", "sa-east-1", None)],
        )
    )
    for i in range(2, NODES):
        nodes.append(Node(f"node-{i}", [(f"NODE{i}-C1", "us-east-1", None)]))
    wait_fleet(nodes[0], NODES)
    # Let every node see the regional cache (the fleet view refreshes with heartbeats).
    time.sleep(2)

    fleet_pop = nodes[0].pops["NODE0-C1"]
    get(fleet_pop, "/1k.bin")
    wrk(f"1 KiB hit, the same node in a {NODES}-node fleet", fleet_pop, "/1k.bin")
    wrk(f"1 KiB hit, the same node in a {NODES}-node fleet (again)", fleet_pop, "/1k.bin")

    tiny, local, far = (nodes[1].pops[p] for p in ("TINY50-C1", "LOCAL50-C1", "FAR50-C1"))
    warm = get(tiny, "/1k.bin")
    timing = warm.getheader("Server-Timing") or ""
    if 'cdn-upstream-layer;desc="REC"' not in timing and 'cdn-hit-layer;desc="REC"' not in timing:
        sys.exit(f"the POP's miss did not go through the regional cache node: {timing}")
    get(local, "/1k.bin")
    hit = get(local, "/1k.bin")
    if not (hit.getheader("X-Cache") or "").startswith("Hit"):
        sys.exit("the local POP did not keep the object")
    wrk("1 KiB local hit (POP)", local, "/1k.bin")
    wrk("1 KiB hit on the regional cache's own node", tiny, "/1k.bin")
    wrk("1 KiB origin fetch (new key each request)", far, "/1k.bin", miss_script)

    propagation(nodes[0], nodes[1])
    invalidation(nodes[0], NODES)
    for node in nodes:
        node.stop()
    # Once more alone, after the fleet: the spread between the two is this run's noise.
    alone_hits("1 KiB hit, one node alone (again, after the fleet)", "alone-after")


def alone_hits(name, node_name):
    """One node on the embedded store: the baseline 1 KiB hit."""
    alone = Node(node_name, [("ALONE50-C1", "us-east-1", None)], store=None)
    port = alone.pops["ALONE50-C1"]
    get(port, "/1k.bin")
    wrk(name, port, "/1k.bin")
    alone.stop()


if __name__ == "__main__":
    try:
        main()
    finally:
        for started in STARTED:
            started.stop()
