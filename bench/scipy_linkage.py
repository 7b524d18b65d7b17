#!/usr/bin/env python3
"""Times scipy.cluster.hierarchy.linkage for bench/cluster.ts.

usage: scipy_linkage.py POINTS.f32 N D REPEATS METHOD[,METHOD...]
Reads N x D float32 points (raw little-endian), converts them to float64 once (outside the timing, as scipy would on
entry), then times linkage(X, method) -- pdist and the clustering, nothing else -- REPEATS times per method.
Prints JSON: {"scipy": version, "times": {method: [seconds, ...]}}.
"""
import json
import sys
import time

import numpy as np
import scipy
from scipy.cluster.hierarchy import linkage


def main():
    path, n, d, repeats, methods = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    X = np.fromfile(path, dtype="<f4", count=n * d).reshape(n, d).astype(np.float64)
    linkage(X[:50], "single")  # import and first-call costs out of the way
    times = {}
    for method in methods.split(","):
        runs = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            linkage(X, method)
            runs.append(time.perf_counter() - t0)
        times[method] = runs
    print(json.dumps({"scipy": scipy.__version__, "times": times}))


if __name__ == "__main__":
    main()
