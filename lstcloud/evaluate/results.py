"""What a protocol run produces: per-sample scores, per-method aggregates and the arrays the
report draws (a few sample panels, and sub-sampled prediction/reference pairs)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .methods import Method, training_overlap
from .metrics import aggregate

__all__ = ["ProtocolResult", "SamplePanel"]

_MAX_PAIRS_PER_SAMPLE = 20_000


@dataclass(frozen=True)
class SamplePanel:
    """Maps of one sample for the side-by-side figure.

    Attributes
    ----------
    name
        Sample name.
    coarse
        The LST given to the methods (K), on its own grid.
    ndvi
        The NDVI guide given to the methods (or None).
    predictions
        Method name -> prediction on the reference grid (K).
    reference
        The reference (K) on its grid, NaN outside the scored region.
    """

    name: str
    coarse: np.ndarray
    ndvi: np.ndarray | None
    predictions: dict[str, np.ndarray]
    reference: np.ndarray


@dataclass
class ProtocolResult:
    """Scores of one protocol run over a data folder.

    ``protocol`` is ``"wald"`` or ``"aster"``; ``reference_label`` names the reference in the
    figures (e.g. ``"MODIS LST 1 km (Wald)"``).
    """

    protocol: str
    data: str
    reference_label: str
    config: dict[str, Any]
    method_sources: dict[str, str]
    per_sample: list[dict[str, Any]] = field(default_factory=list)
    panels: list[SamplePanel] = field(default_factory=list)
    pairs: dict[str, list[tuple[np.ndarray, np.ndarray]]] = field(default_factory=dict)
    extra_keys: tuple[str, ...] = ()
    seed: int = 0
    training_overlap: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: method -> sample -> (error against the reference, sigma) on the scored pixels (K)
    uncertainty: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = field(
        default_factory=dict)

    def add_score(self, sample: str, method: str, scores: dict[str, Any], **extra: Any) -> None:
        """Record the scores of ``method`` on ``sample``."""
        self.per_sample.append({"sample": sample, "method": method, **scores, **extra})

    def add_pairs(
        self, method: str, prediction: np.ndarray, reference: np.ndarray, mask: np.ndarray
    ) -> None:
        """Keep (a random subset of) the scored pixels for scatter plots and histograms."""
        p = np.asarray(prediction, np.float32)[mask]
        r = np.asarray(reference, np.float32)[mask]
        ok = np.isfinite(p) & np.isfinite(r)
        p, r = p[ok], r[ok]
        if p.size > _MAX_PAIRS_PER_SAMPLE:
            rng = np.random.default_rng(self.seed + len(self.per_sample))
            idx = rng.choice(p.size, _MAX_PAIRS_PER_SAMPLE, replace=False)
            p, r = p[idx], r[idx]
        self.pairs.setdefault(method, []).append((p, r))

    def check_training_overlap(self, methods: Sequence[Method]) -> None:
        """Record, per method, the evaluated samples its model saw in training, with a note.

        Call after the samples were scored. Wald scores of such a model are in-sample; ASTER
        scores stay free of ASTER (no model reads it) but are transductive for those samples.
        """
        samples = list(dict.fromkeys(r["sample"] for r in self.per_sample))
        for method in methods:
            seen = training_overlap(method, data=self.data, samples=samples)
            if not seen:
                continue
            self.training_overlap[method.name] = seen
            head = (
                f"{method.name}: its training / validation split held {len(seen)} of the "
                f"{len(samples)} evaluated samples"
            )
            if self.protocol == "wald":
                self.notes.append(
                    f"{head} (their MODIS LST and NDVI): its Wald scores are in-sample, not "
                    "held-out; score it on data it never saw for a fair Wald figure."
                )
            else:
                self.notes.append(
                    f"{head} (their MODIS LST and NDVI only, self-supervised; never ASTER): the "
                    "ASTER reference stays unseen, but the figures are transductive, not held-out."
                )

    def method_names(self) -> list[str]:
        """Method names in the order they were given."""
        return list(self.method_sources)

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per-method aggregates (:func:`lstcloud.evaluate.metrics.aggregate`) and source."""
        out: dict[str, dict[str, Any]] = {}
        for name in self.method_names():
            rows = [r for r in self.per_sample if r["method"] == name]
            out[name] = {
                **aggregate(rows, extra_keys=self.extra_keys),
                "source": self.method_sources[name],
                "samples_seen_in_training": len(self.training_overlap.get(name, [])),
            }
        return out

    def uncertainty_summary(self) -> dict[str, dict[str, Any]]:
        """Per method with a sigma: coverage at 68 / 90 %, RMSE per sigma quintile, the
        reliability table (:func:`lstcloud.evaluate.calibration.uncertainty_scores`)."""
        from .calibration import uncertainty_scores

        return {
            name: uncertainty_scores({s: e for s, (e, _) in per.items()},
                                     {s: sg for s, (_, sg) in per.items()})
            for name, per in self.uncertainty.items()
        }

    def to_json(self) -> dict[str, Any]:
        """The metrics.json document (NaN / inf written as null)."""
        doc = {
            "protocol": self.protocol,
            "data": self.data,
            "reference": self.reference_label,
            "config": self.config,
            "methods": self.summary(),
            "per_sample": self.per_sample,
            "notes": self.notes,
        }
        if self.uncertainty:
            doc["uncertainty"] = self.uncertainty_summary()
        return _json_safe(doc)


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
