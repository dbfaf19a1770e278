#!/usr/bin/env python3
"""Runs the modular-monolith demo against a live RabbitMQ, in a fresh vhost.

    run_on_rabbitmq.py DEMO one-process     every module in one process
    run_on_rabbitmq.py DEMO two-processes   shipping in a process of its own,
                                            the other modules in another

DEMO is the monolith_demo executable. The broker is the one the amqp_* tests
use (tests/amqp_test_support.h): WARREN_AMQP_URL (default
amqp://guest:guest@127.0.0.1:5672/, its vhost ignored), administered with
rabbitmqctl on node WARREN_RABBITMQ_NODE (default rabbit@localhost);
scripts/rabbitmq starts one. The vhost is made for this run and deleted after.

With two processes, shipping starts first and its queue is bound before the
other process places any order; the run passes when both processes pass their
own checks and the orders the first one saw paid are exactly the orders the
shipping process shipped. Exits 0 when the run passed, 1 otherwise; prints
both processes' output (never the URL, which holds a password).
"""

import os
import queue
import re
import subprocess
import sys
import threading

# Longer than the demo's own patience (30 s), which fails first and says why.
TIMEOUT_SECONDS = 90


def broker_url_base():
    url = os.environ.get("WARREN_AMQP_URL") or "amqp://guest:guest@127.0.0.1:5672/"
    scheme_end = url.find("://") + 3
    path = url.find("/", scheme_end)
    return url if path == -1 else url[:path]


def rabbitmqctl(*args):
    node = os.environ.get("WARREN_RABBITMQ_NODE") or "rabbit@localhost"
    subprocess.run(["rabbitmqctl", "-q", "-n", node, *args], check=True,
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=TIMEOUT_SECONDS)


def add_vhost(vhost):
    rabbitmqctl("eval",
                f'ok = rabbit_vhost:add(<<"{vhost}">>, <<"warren-tests">>), '
                f'ok = rabbit_auth_backend_internal:set_permissions(<<"guest">>, '
                f'<<"{vhost}">>, <<".*">>, <<".*">>, <<".*">>, <<"warren-tests">>).')


class Demo:
    """One monolith_demo process, its output read line by line as it comes."""

    def __init__(self, name, command):
        self.name = name
        self.lines = []
        self._arrived = queue.Queue()
        self._process = subprocess.Popen(command, stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT, text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self._process.stdout:
            self.lines.append(line.rstrip("\n"))
            self._arrived.put(line)
        self._arrived.put(None)

    def wait_for_line(self, pattern):
        """True once a line matching `pattern` came; False at exit or timeout."""
        while True:
            try:
                line = self._arrived.get(timeout=TIMEOUT_SECONDS)
            except queue.Empty:
                return False
            if line is None:
                return False
            if re.search(pattern, line):
                return True

    def finish(self):
        """The exit code; kills the process if it outlives the timeout."""
        try:
            code = self._process.wait(timeout=TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self._process.kill()
            code = self._process.wait()
            self.lines.append("(killed: still running after the timeout)")
        self._reader.join()
        print(f"--- {self.name} (exit code {code})")
        for line in self.lines:
            print(f"  {line}")
        return code

    def orders_in(self, pattern):
        """The order ids listed in the first line matching `pattern`, which
        ends in a list like (1, 2, 3); None when no line matches."""
        for line in self.lines:
            match = re.search(pattern + r".*\(([\d, ]*)\)$", line)
            if match:
                return {int(n) for n in match.group(1).split(",") if n.strip()}
        return None


def one_process(demo, url):
    everything = Demo("monolith_demo, every module", [demo, "--bus", url])
    return everything.finish() == 0


def two_processes(demo, url):
    shipping = Demo("monolith_demo --only shipping", [demo, "--bus", url, "--only", "shipping"])
    if not shipping.wait_for_line(r"^demo: started shipping here"):
        shipping.finish()
        print("FAILED: the shipping process did not start")
        return False
    rest = Demo("monolith_demo --without shipping",
                [demo, "--bus", url, "--without", "shipping"])
    passed = rest.finish() == 0
    passed = shipping.finish() == 0 and passed
    paid = rest.orders_in(r"^orders: placed \d+ orders, \d+ paid")
    shipped = shipping.orders_in(r"^shipping: shipped \d+ orders")
    if not paid or paid != shipped:
        print(f"FAILED: orders paid in one process {paid}, shipped by the other {shipped}")
        return False
    if rest.orders_in(r"^shipping: shipped") is not None:
        print("FAILED: shipping ran in the process started --without shipping")
        return False
    print(f"orders paid in one process and shipped by the other: {sorted(paid)}")
    return passed


def main():
    modes = {"one-process": one_process, "two-processes": two_processes}
    if len(sys.argv) != 3 or sys.argv[2] not in modes:
        print(__doc__, file=sys.stderr)
        return 2
    vhost = f"warren-monolith-{os.getpid()}"
    try:
        add_vhost(vhost)
    except subprocess.CalledProcessError as error:
        print(f"cannot make vhost {vhost} (is a broker running? scripts/rabbitmq start):\n"
              f"{error.stdout.decode(errors='replace')}")
        return 1
    try:
        passed = modes[sys.argv[2]](sys.argv[1], f"{broker_url_base()}/{vhost}")
    finally:
        rabbitmqctl("delete_vhost", vhost)
    print("passed" if passed else "FAILED")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
