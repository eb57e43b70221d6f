"""Timing shared by the benchmarks: the best of several runs, in CPU and wall-clock time."""
import time


def best_time(render, data, repeat: int) -> tuple[float, float, bytes]:
    """Best CPU seconds and best wall-clock seconds over `repeat` runs, and the PDF."""
    best_cpu = best_wall = float("inf")
    pdf = b""
    for _ in range(repeat):
        cpu, wall = time.process_time(), time.perf_counter()
        pdf = render(data)
        best_cpu = min(best_cpu, time.process_time() - cpu)
        best_wall = min(best_wall, time.perf_counter() - wall)
    return best_cpu, best_wall, pdf


def best_of(times: int, work) -> float:
    """Best wall-clock seconds of `times` runs of work()."""
    best = float("inf")
    for _ in range(times):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best
