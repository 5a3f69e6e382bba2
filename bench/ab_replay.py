"""Replay one recorded session with two code trees, alternating, each replay in a fresh process.

For before/after figures within one run: `TREE` is a checkout of the code to measure (e.g.
`git archive <commit> | tar -x -C /tmp/before`). Prints each replay (equal, total wall s, CPU s,
the actors' re-run wall s, peak RSS MB) and the medians per tree.

    python bench/ab_replay.py DB ROUNDS TREE [TREE ...]
"""
import subprocess, sys, statistics
db, rounds, trees = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
one = r'''
import sys, time, resource
sys.path.insert(0, ".")
from replay.runner import replay_session
from store import open_log
log = open_log(sys.argv[1], create=False)
c = time.process_time(); t = time.perf_counter()
r = replay_session(log, 1)
t = time.perf_counter() - t; c = time.process_time() - c
print(f"{r.equal} {t:.2f} {c:.2f} {r.wall_s:.2f} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}")
'''
res = {t: [] for t in trees}
for i in range(rounds):
    for tree in trees:
        out = subprocess.run([sys.executable, "-c", one, db], cwd=tree, capture_output=True, text=True)
        line = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else out.stderr[-500:]
        print(tree, line, flush=True)
        res[tree].append(line.split())
for tree in trees:
    rows = res[tree]
    print(tree, "median total wall %.2f cpu %.2f run-wall %.2f maxrss %s MB" % tuple(
        [statistics.median(float(r[k]) for r in rows) for k in (1, 2, 3)] + [max(int(r[4]) for r in rows)]))
