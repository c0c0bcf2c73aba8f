"""Write a protocol run as ``metrics.json``, ``report.md`` and PNG figures (matplotlib Agg).

Figures (every title names the unit, the reference and the data):

- ``maps_<sample>.png``: the LST given to the methods, the NDVI, each method's output and the
  reference on one colour scale, and below each method its error map (method - reference);
- ``scatter.png``: each method against the reference (2-D histogram, 1:1 line);
- ``error_hist.png``: histograms of method - reference.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from .results import ProtocolResult, SamplePanel

__all__ = ["write_metrics_json", "write_report"]

_TABLE_KEYS: tuple[tuple[str, str, str], ...] = (
    ("rmse_k", "RMSE (K)", "{:.3f}"),
    ("mae_k", "MAE (K)", "{:.3f}"),
    ("bias_k", "bias (K)", "{:+.3f}"),
    ("ssim", "SSIM", "{:.3f}"),
    ("psnr_db", "PSNR (dB)", "{:.2f}"),
    ("grad_rmse_k", "grad RMSE (K/px)", "{:.3f}"),
    ("corr", "corr", "{:.3f}"),
    ("pooled_rmse_k", "pooled RMSE (K)", "{:.3f}"),
    ("n_samples", "samples", "{:d}"),
)


def write_metrics_json(result: ProtocolResult, out_dir: str | Path) -> Path:
    """Write ``OUT/metrics.json`` (keys ``protocol``, ``data``, ``methods``, ``per_sample``)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "metrics.json"
    path.write_text(json.dumps(result.to_json(), indent=2, allow_nan=False) + "\n")
    return path


def _fmt(value: Any, pattern: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return pattern.format(value)


def _data_label(result: ProtocolResult) -> str:
    return Path(result.data).name or result.data


def _limits(panel: SamplePanel) -> tuple[float, float]:
    values = [panel.reference[np.isfinite(panel.reference)]]
    if not values[0].size:
        values = [p[np.isfinite(p)] for p in panel.predictions.values()]
    stack = np.concatenate([v.ravel() for v in values]) if values else np.array([0.0, 1.0])
    if not stack.size:
        return 0.0, 1.0
    lo, hi = np.percentile(stack, [1, 99])
    return float(lo), float(hi if hi > lo else lo + 1.0)


def _plot_maps(result: ProtocolResult, panel: SamplePanel, path: Path) -> None:
    names = list(panel.predictions)
    ncols = 2 + len(names) + 1
    fig, axes = plt.subplots(2, ncols, figsize=(2.6 * ncols, 5.6), squeeze=False)
    vmin, vmax = _limits(panel)
    cmap = "inferno"

    def show(ax: Any, image: np.ndarray, title: str, **kw: Any) -> Any:
        im = ax.imshow(image, interpolation="nearest", **kw)
        ax.set_title(title, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
        return im

    coarse_label = "LST input 4 km (K)" if result.protocol == "wald" else "MODIS LST 1 km (K)"
    show(axes[0, 0], panel.coarse, coarse_label, cmap=cmap, vmin=vmin, vmax=vmax)
    if panel.ndvi is not None:
        show(axes[0, 1], panel.ndvi, "NDVI guide (-)", cmap="YlGn", vmin=0, vmax=1)
    else:
        axes[0, 1].axis("off")
    for i, name in enumerate(names):
        show(
            axes[0, 2 + i], panel.predictions[name], f"{name} (K)", cmap=cmap, vmin=vmin, vmax=vmax
        )
    ref_title = "ASTER (K)" if result.protocol == "aster" else "MODIS 1 km truth (K)"
    im = show(axes[0, -1], panel.reference, ref_title, cmap=cmap, vmin=vmin, vmax=vmax)
    fig.colorbar(im, ax=axes[0, -1], fraction=0.046, label="K")
    axes[1, 0].axis("off")
    axes[1, 1].axis("off")
    axes[1, -1].axis("off")
    err_im = None
    for i, name in enumerate(names):
        err = panel.predictions[name] - panel.reference
        err_im = show(
            axes[1, 2 + i], err, f"{name} - reference (K)", cmap="RdBu_r", vmin=-5, vmax=5
        )
    if err_im is not None:
        fig.colorbar(err_im, ax=axes[1, -1], fraction=0.3, label="error (K)")
    fig.suptitle(
        f"Sample {panel.name}: LST (K) vs {result.reference_label}; data {_data_label(result)}",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _pairs(result: ProtocolResult, name: str) -> tuple[np.ndarray, np.ndarray]:
    chunks = result.pairs.get(name, [])
    if not chunks:
        return np.empty(0, np.float32), np.empty(0, np.float32)
    return (np.concatenate([c[0] for c in chunks]), np.concatenate([c[1] for c in chunks]))


def _plot_scatter(result: ProtocolResult, summary: dict[str, Any], path: Path) -> None:
    names = result.method_names()
    ncols = min(4, len(names))
    nrows = -(-len(names) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.4 * ncols, 3.4 * nrows + 0.3), squeeze=False)
    for ax in axes.ravel()[len(names) :]:
        ax.axis("off")
    for ax, name in zip(axes.ravel(), names, strict=False):
        pred, ref = _pairs(result, name)
        if pred.size:
            lo, hi = np.percentile(np.concatenate([pred, ref]), [0.5, 99.5])
            ax.hist2d(ref, pred, bins=80, range=[[lo, hi], [lo, hi]], cmap="viridis", cmin=1)
            ax.plot([lo, hi], [lo, hi], "r-", lw=0.8)
        rmse = _fmt(summary[name].get("rmse_k"), "{:.2f}")
        ax.set_title(f"{name}: RMSE {rmse} K", fontsize=9)
        ax.set_xlabel("reference LST (K)")
        ax.set_ylabel(f"{name} LST (K)")
    fig.suptitle(f"Method vs {result.reference_label}; data {_data_label(result)}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _plot_histograms(result: ProtocolResult, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6, 4))
    for name in result.method_names():
        pred, ref = _pairs(result, name)
        if pred.size:
            ax.hist(
                pred - ref, bins=np.linspace(-8, 8, 81), histtype="step", density=True, label=name
            )
    ax.set_xlabel("method - reference (K)")
    ax.set_ylabel("density (1/K)")
    ax.legend(fontsize=8)
    ax.set_title(
        f"Error histograms vs {result.reference_label}\ndata {_data_label(result)}", fontsize=9
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _table(summary: dict[str, Any], extra_keys: tuple[str, ...]) -> list[str]:
    keys = [*_TABLE_KEYS, *[(k, k, "{:.3f}") for k in extra_keys]]
    lines = [
        "| method | " + " | ".join(k[1] for k in keys) + " | source |",
        "|---|" + "---|" * len(keys) + "---|",
    ]
    for name, row in summary.items():
        cells = [_fmt(row.get(k), pat) for k, _, pat in keys]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {row.get('source', '')} |")
    return lines


def _per_sample_table(result: ProtocolResult) -> list[str]:
    names = result.method_names()
    samples = list(dict.fromkeys(r["sample"] for r in result.per_sample))
    lookup = {(r["sample"], r["method"]): r for r in result.per_sample}
    lines = [
        "| sample | pixels | " + " | ".join(f"{n} RMSE (K)" for n in names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    for s in samples:
        first = lookup.get((s, names[0]), {})
        cells = [_fmt(lookup.get((s, n), {}).get("rmse_k"), "{:.3f}") for n in names]
        lines.append(f"| {s} | {first.get('n_valid_px', 0)} | " + " | ".join(cells) + " |")
    return lines


_PROTOCOL_TEXT = {
    "wald": (
        "Wald protocol: the real MODIS 1 km LST is degraded to 4 km and the 250 m NDVI to 1 km "
        "with the degradation H below; each method super-resolves 4x and is scored against the "
        "real 1 km LST. The reference is MODIS itself (scale-invariance hypothesis), not an "
        "independent truth."
    ),
    "aster": (
        "ASTER protocol: each method super-resolves the real MODIS 1 km LST to 250 m with the "
        "250 m NDVI (aligned by geotransform); the 250 m output is reprojected from MODIS "
        "sinusoidal onto the ASTER grid (UTM 31N, ~231.65 m) bilinearly with "
        "rasterio.warp.reproject, without a PSF on either side; ASTER 0 / 200 K fill and values "
        "below the threshold are masked and the valid mask is eroded by the margin below; all "
        "methods are scored on the same pixels. No method sees ASTER in training or tuning. "
        "ssim_bbox is the SSIM of the valid region's bounding box with masked pixels set to the "
        "reference mean (the convention of the independent script behind the reference figures "
        "of the science notes); ssim averages the SSIM map over the valid pixels only."
    ),
}


def _uncertainty_section(
    result: ProtocolResult, out: Path, figures: list[tuple[str, str]]
) -> list[str]:
    """The uncertainty table of every method with a sigma, and its reliability diagram."""
    if not result.uncertainty:
        return []
    from .calibration import plot_reliability

    scores = result.uncertainty_summary()
    plot_reliability(scores, out / "reliability.png",
                     title=f"sigma vs error against\n{result.reference_label}")
    figures.append(("reliability.png", "Reliability: RMSE against the reference per sigma "
                                       "decile vs the mean sigma (K)"))
    lines = ["## Uncertainty (methods with a calibrated sigma; pixels pooled over samples)", "",
             "| method | +-1 sigma coverage (68 %) | +-1.645 sigma coverage (90 %) | RMSE per "
             "sigma quintile, low to high (K) | top / bottom | Spearman(sigma, abs error) |",
             "|---|---|---|---|---|---|"]
    for name, sc in scores.items():
        quint = " / ".join(f"{b['rmse_k']:.2f}" for b in sc["rmse_by_sigma_quintile"])
        lines.append(f"| {name} | {100 * sc['coverage_1sigma']:.1f} % | "
                     f"{100 * sc['coverage_90']:.1f} % | {quint} | "
                     f"{sc['rmse_ratio_top_bottom_quintile']:.2f} | "
                     f"{sc['spearman_sigma_abs_error']:.2f} |")
    return [*lines, "", f"Reference: {result.reference_label}; sigma and error in K.", ""]


def write_report(result: ProtocolResult, out_dir: str | Path) -> Path:
    """Write ``metrics.json``, the figures and ``report.md`` into ``out_dir``.

    Returns
    -------
    pathlib.Path
        The path of ``report.md``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_metrics_json(result, out)
    summary = result.summary()
    figures: list[tuple[str, str]] = []
    for panel in result.panels:
        name = f"maps_{panel.name}.png"
        _plot_maps(result, panel, out / name)
        figures.append((name, f"Sample {panel.name}: inputs, outputs, reference, error maps"))
    _plot_scatter(result, summary, out / "scatter.png")
    figures.append(("scatter.png", f"Each method vs {result.reference_label} (K)"))
    _plot_histograms(result, out / "error_hist.png")
    figures.append(("error_hist.png", "Histograms of method - reference (K)"))

    unc_lines = _uncertainty_section(result, out, figures)
    config = ", ".join(f"{k}={v}" for k, v in result.config.items())
    lines = [
        f"# lstcloud evaluation: {result.protocol} protocol",
        "",
        f"- data: `{result.data}`",
        f"- reference: {result.reference_label}",
        f"- configuration: {config}",
        "",
        _PROTOCOL_TEXT.get(result.protocol, ""),
        "",
        "## Scores (mean over samples; pooled RMSE weights every pixel equally)",
        "",
        *_table(summary, result.extra_keys),
        "",
        "RMSE, MAE, bias in K; gradient RMSE in K per pixel (Sobel / 8); SSIM on the valid region "
        "with data_range = reference max-min; PSNR in dB with peak = reference max-min.",
        "",
    ]
    lines += unc_lines
    if result.notes:
        lines += ["## Caveats", "", *[f"- {note}" for note in result.notes], ""]
    lines += ["## Figures", ""]
    for name, caption in figures:
        lines += [f"![{caption}]({name})", "", f"*{caption}; data {_data_label(result)}.*", ""]
    lines += ["## Per sample", "", *_per_sample_table(result), ""]
    path = out / "report.md"
    path.write_text("\n".join(lines))
    return path
