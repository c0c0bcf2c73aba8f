"""The cost of a model's ``predict`` per pixel, side by side with one pass of ``sif-cnn-sr1``.

In one process, with a fixed number of torch threads (default 2), on the same synthetic
600 x 600 px (1 km) block (2400 x 2400 px out; :func:`lstcloud.models.cost.sample_block`), each
model's ``lstcloud.load_model(name).predict(lst_1km, ndvi_250m)`` is timed, interleaved over
``--repeats`` rounds (the median is kept, so a background load hits every model alike). Printed
per model: the median time, 250 m Mpx/s, Mpx/s per CPU core (threads), the network passes per
prediction (``card["passes"]``), the ratio to ``sif-cnn-sr1`` and, with ``--flops``, the forward
GFLOP per Mpx counted by torch and one GPU's throughput on paper. With ``--uncertainty``, for
each model with a calibrated uncertainty, the time of its sigma on its own prediction of the
same block (:func:`lstcloud.models.cost.measure_uncertainty_cost`) beside the prediction's.

Run: ``.venv/bin/python benchmarks/model_cost.py [--models default,ensemble] [--threads 2]
[--uncertainty]``
"""

from __future__ import annotations

import argparse

REFERENCE = "sif-cnn-sr1"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="default,ensemble",
                        help=f"comma-separated model names or folders ({REFERENCE} is added)")
    parser.add_argument("--size", type=int, default=600, help="block side in 1 km px")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--flops", action="store_true", help="count FLOPs, project one GPU")
    parser.add_argument("--uncertainty", action="store_true",
                        help="also time the calibrated sigma beside the prediction")
    args = parser.parse_args()

    import lstcloud
    from lstcloud.models.cost import measure_costs

    names = [REFERENCE, *[m for m in args.models.split(",") if m and m != REFERENCE]]
    models = {n: lstcloud.load_model(n, device="cpu") for n in names}
    figures = measure_costs(models, reference=REFERENCE, size=args.size, threads=args.threads,
                            repeats=args.repeats, flops=args.flops)
    print(f"# {args.size} x {args.size} px at 1 km -> {16 * args.size**2 / 1e6:.2f} Mpx at "
          f"250 m, {args.threads} torch threads, median of {args.repeats} interleaved runs")
    print(f"{'model':26s} passes  time (s)  Mpx/s  Mpx/s/core  x {REFERENCE}"
          + ("  GFLOP/Mpx  GPU Mpx/s (paper)" if args.flops else ""))
    for f in figures.values():
        line = (f"{f.name:26s} {f.passes:6d} {f.seconds:9.2f} {f.mpx_per_s:6.2f} "
                f"{f.mpx_per_s_per_core:11.2f} {f.ratio:14.2f}")
        if f.gflop_per_mpx is not None:
            gpu = f.gpu_mpx_per_s_paper
            line += f" {f.gflop_per_mpx:10.1f} {gpu:18.0f}" if gpu else f" {f.gflop_per_mpx:10.1f}"
        print(line)
    if args.uncertainty:
        from lstcloud.models.cost import measure_uncertainty_cost

        print(f"\n{'model':26s} predict (s)  sigma (s)  sigma / predict")
        for name, model in models.items():
            if getattr(model, "uncertainty", None) is None:
                continue
            pred_s, sigma_s = measure_uncertainty_cost(model, size=args.size,
                                                       threads=args.threads, repeats=args.repeats)
            print(f"{name:26s} {pred_s:11.2f} {sigma_s:10.2f} {sigma_s / pred_s:16.2f}")


if __name__ == "__main__":
    main()
