"""The daily job behind ``lstcloud run``: ingest a day, predict it, publish it.

The job is described by a YAML file validated into :class:`JobConfig` (pydantic). Every wrong
field is reported at once, each named by its path in the file::

    provider: planetary-computer          # or lpcloud
    stac_url: https://planetarycomputer.microsoft.com/api/stac/v1
    region: europe                        # named region, "h18v04,h19v04" or [W, S, E, N]
    cube_url: s3://lst-bucket/input.zarr
    product_url: s3://lst-bucket/product.zarr
    model: sif-cnn-sr1                    # or a model folder
    device: auto                          # auto | cpu | cuda
    scheduler: null                       # Dask scheduler address; null = local cluster
    lookback_days: 2                      # also revisit the 2 days before (late granules)
    qc_policy: default                    # or a QC policy mapping (lstcloud.products.qc)
    publish:
      out_dir: /catalog                   # STAC collection + items of the product

String values may use ``${VAR}`` to take a value from the environment (endpoints, buckets);
an undefined variable is an error naming the field. Credentials never go in the file: they come
from the environment (AWS variables, Earthdata ``.netrc``) as in the rest of lstcloud.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from lstcloud.errors import ConfigError, redact_url
from lstcloud.storage import protocol_of

__all__ = [
    "JobConfig",
    "JobResult",
    "PublishConfig",
    "job_window",
    "load_job_config",
    "parse_day",
    "run_job",
]

log = logging.getLogger(__name__)

_WRITABLE_PROTOCOLS = ("file", "s3", "s3a", "gs", "gcs", "az", "abfs", "memory")
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _check_store_url(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    if protocol_of(value) not in _WRITABLE_PROTOCOLS:
        raise ValueError(
            f"{redact_url(value)!r} is not a writable store: use a folder or "
            "s3://bucket/prefix (also gs://, az://)"
        )
    return value


class PublishConfig(BaseModel):
    """Where the product's STAC collection is published after each run.

    ``out_dir`` receives ``collection.json`` and ``items/``; with ``api_url`` the collection is
    also created/updated and each newly completed day's item upserted in that STAC API
    (Transactions extension; credentials from ``LSTCLOUD_STAC_API_TOKEN`` or
    ``LSTCLOUD_STAC_API_USERNAME``/``LSTCLOUD_STAC_API_PASSWORD``). ``cog`` writes the per-day
    Cloud-Optimized GeoTIFF assets beside the product (default, what odc-stac reads).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    out_dir: str = Field(min_length=1, description="folder of collection.json and items/")
    collection_id: str | None = Field(default=None, min_length=1)
    asset_href: str | None = Field(default=None, min_length=1)
    out_href: str | None = Field(default=None, min_length=1)
    api_url: str | None = Field(default=None, pattern=r"^https?://")
    cog: bool = True


class JobConfig(BaseModel):
    """A daily job: which region to ingest from which catalogue, and where to write.

    Attributes
    ----------
    provider
        ``planetary-computer`` or ``lpcloud``.
    stac_url
        STAC API root (``http(s)://``).
    region
        Named region (``europe``, ``conus``, ``africa``), tile list (``"h18v04,h19v04"``) or a
        lon/lat bbox ``[W, S, E, N]``.
    cube_url, product_url
        Input and product cubes: a folder or ``s3://bucket/prefix``.
    model
        Shipped model name or model folder.
    device
        ``auto`` (each Dask worker uses CUDA when it sees a GPU, or its ``LSTCLOUD_DEVICE``),
        ``cpu`` or ``cuda``; resolved on the workers, not in the job's pod.
    scheduler
        Dask scheduler address; ``None`` starts a local cluster.
    include_night
        Also ingest the night LST.
    lst_product, ndvi_product
        Override the provider's default products.
    chunks_1km
        Input cube chunk size at 1 km (divides 1200).
    tile_1km, batch_size
        Model tile core (1 km pixels) and tiles per model call.
    lookback_days
        The job covers ``date - lookback_days .. date``. Days already done cost a listing of
        their records: a rerun of a complete day writes nothing. Tiles that had no granule
        (``no_input``) are searched again in that window, and a day whose input changed is
        predicted again, so granules published late are picked up by the next daily run.
    qc_policy
        QC acceptance policy for the ingest: ``default``, one policy mapping, or a mapping
        by product / QC scheme (see :func:`lstcloud.ingest.qc.resolve_qc_policies`).
    publish
        Where to publish the STAC collection (optional).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: Literal["planetary-computer", "lpcloud"]
    stac_url: str
    region: str | list[float]
    cube_url: str
    product_url: str
    model: str = Field(default="default", min_length=1)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    scheduler: str | None = None
    include_night: bool = False
    lst_product: str | None = None
    ndvi_product: str | None = None
    chunks_1km: int = Field(default=300, gt=0)
    tile_1km: int = Field(default=320, ge=8)
    batch_size: int = Field(default=2, ge=1)
    lookback_days: int = Field(default=0, ge=0, le=31)
    qc_policy: str | dict[str, Any] = "default"
    publish: PublishConfig | None = None

    @field_validator("stac_url")
    @classmethod
    def _stac_url(cls, value: str) -> str:
        if protocol_of(value) not in ("http", "https"):
            raise ValueError(f"must be an http(s):// STAC API URL, got {redact_url(value)!r}")
        return value.rstrip("/")

    @field_validator("cube_url", "product_url")
    @classmethod
    def _store(cls, value: str) -> str:
        return _check_store_url(value)

    @field_validator("scheduler")
    @classmethod
    def _scheduler(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^[a-z]+://[^\s]+:\d+$|^[^\s:/]+:\d+$", value):
            raise ValueError(f"must be a scheduler address like tcp://host:8786, got {value!r}")
        return value

    @field_validator("chunks_1km")
    @classmethod
    def _chunks(cls, value: int) -> int:
        if 1200 % value:
            raise ValueError(f"must divide 1200 (a 1 km tile side), got {value}")
        return value

    @field_validator("region")
    @classmethod
    def _region(cls, value: str | list[float]) -> str | list[float]:
        if isinstance(value, list):
            if len(value) != 4:
                raise ValueError(f"a bbox must be [W, S, E, N], got {len(value)} numbers")
            west, south, east, north = value
            if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
                raise ValueError(f"bbox {value} is not W < E in [-180, 180], S < N in [-90, 90]")
            return value
        if not value.strip():
            raise ValueError("must not be empty")
        try:
            from lstcloud.grid import resolve_region
        except ImportError:  # pragma: no cover - grid is part of the package
            return value
        try:
            tiles = resolve_region(value)
        except Exception as exc:  # any failure means a wrong region
            raise ValueError(str(exc)) from None
        if not tiles:
            raise ValueError(f"region {value!r} covers no MODIS land tile")
        return value

    @property
    def resolved_device(self) -> str | None:
        """``None`` for ``auto`` (each worker picks CUDA when it has one), else the device."""
        return None if self.device == "auto" else self.device


def _expand_env(value: Any, path: str, errors: list[str]) -> Any:
    if isinstance(value, dict):
        return {
            k: _expand_env(v, f"{path}.{k}" if path else str(k), errors) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_expand_env(v, f"{path}[{i}]", errors) for i, v in enumerate(value)]
    if isinstance(value, str):

        def sub(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in os.environ:
                errors.append(f"{path}: environment variable ${{{name}}} is not set")
                return match.group(0)
            return os.environ[name]

        return _ENV.sub(sub, value)
    return value


def _format_errors(exc: ValidationError) -> list[str]:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith(("function-", "list[")))
        loc = loc.replace(".str", "").replace(".literal", "") or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field (check the spelling)"
        elif err["type"] == "missing":
            msg = "required field is missing"
        given = err.get("input")
        if err["type"] not in ("missing", "extra_forbidden", "value_error") and not isinstance(
            given, dict
        ):
            msg = f"{msg} (got {given!r})"
        lines.append(f"{loc}: {msg}")
    return sorted(set(lines))


def load_job_config(source: str | Path | dict[str, Any]) -> JobConfig:
    """Read and validate a job YAML file (or an already parsed mapping).

    Raises
    ------
    ConfigError
        Naming the file and every wrong field, one per line.
    """
    where = f"job config {source}" if not isinstance(source, dict) else "job config"
    if isinstance(source, dict):
        data: Any = source
    else:
        try:
            data = yaml.safe_load(Path(source).read_text())
        except FileNotFoundError:
            raise ConfigError(f"{where} does not exist") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{where} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be a mapping of fields, got {type(data).__name__}")
    errors: list[str] = []
    data = _expand_env(data, "", errors)
    try:
        config = JobConfig.model_validate(data)
    except ValidationError as exc:
        errors.extend(_format_errors(exc))
        config = None
    if errors:
        raise ConfigError(f"{where} has {len(errors)} error(s):\n  - " + "\n  - ".join(errors))
    assert config is not None
    return config


def parse_day(text: str | dt.date | None, *, today: dt.date | None = None) -> dt.date:
    """A day from ``YYYY-MM-DD``, ``yesterday`` or ``today`` (UTC); ``None`` means yesterday."""
    if isinstance(text, dt.date):
        return text
    today = today or dt.datetime.now(dt.UTC).date()
    if text is None or text == "yesterday":
        return today - dt.timedelta(days=1)
    if text == "today":
        return today
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"--date must be YYYY-MM-DD, 'yesterday' or 'today', got {text!r}"
        ) from None


def _ingest_failures(ingested: Any, days: dt.date | tuple[dt.date, ...]) -> list[Any]:
    """The failed (day, tile) outcomes of ``days`` in an ingest summary."""
    wanted = (days,) if isinstance(days, dt.date) else tuple(days)
    failed = getattr(ingested, "failed", None) or []
    return [o for o in failed if getattr(o, "date", wanted[0]) in wanted]


def job_window(
    config: JobConfig, date: dt.date, *, start: dt.date | None = None
) -> tuple[dt.date, ...]:
    """The days one run of the job covers: ``start .. date``, by default
    ``date - lookback_days .. date``."""
    if start is None:
        start = date - dt.timedelta(days=config.lookback_days)
    if start > date:
        raise ConfigError(f"the window starts on {start}, after its last day {date}")
    return tuple(start + dt.timedelta(days=k) for k in range((date - start).days + 1))


@dataclass(frozen=True)
class JobResult:
    """What :func:`run_job` did: the three stages' summaries.

    ``predict`` is ``None`` when the ingest of the day failed: nothing was predicted or
    published, and the run is not ``ok`` (``lstcloud run`` exits 3 so the CronJob retries).
    ``days`` is the window the run covered (``date`` and its ``lookback_days``).
    """

    date: dt.date
    ingest: Any
    predict: Any
    collection: Path | str | None
    seconds: float
    days: tuple[dt.date, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the ingest had no failure and every day of the window is predicted."""
        failed = getattr(self.ingest, "failed", None)
        ingest_ok = not failed if failed is not None else True
        if self.predict is None:
            return False
        done = set(self.predict.written) | set(self.predict.skipped)
        return bool(ingest_ok and all(d in done for d in (self.days or (self.date,))))

    def format(self) -> str:
        """Closing summary of the three stages."""
        state = "ok" if self.ok else "FAILED"
        parts = [f"lstcloud run {self.date} ({state}, {self.seconds:.1f} s)"]
        fmt = getattr(self.ingest, "format", None)
        parts.append("[ingest]\n" + (fmt() if callable(fmt) else str(self.ingest)))
        if self.predict is None:
            days = self.days or (self.date,)
            window = f"{days[0]}" if len(days) == 1 else f"{days[0]}..{days[-1]}"
            failed = _ingest_failures(self.ingest, days)
            lines = [
                f"not run: the ingest of {window} failed for {len(failed)} tile(s); "
                "the next attempt ingests them again"
            ]
            for o in failed:
                why = "; ".join(getattr(o, "reasons", ()) or ()) or "no reason given"
                when = f"{getattr(o, 'date', '')} " if len(days) > 1 else ""
            lines.append(f"  {when}{getattr(o, 'tile', '?')}: {why}")
            parts.append("[predict]\n" + "\n".join(lines))
            parts.append("[publish]\nnot run")
        else:
            parts.append("[predict]\n" + self.predict.format())
            parts.append(f"[publish]\n{self.collection or 'not configured'}")
        return "\n".join(parts)


def run_job(
    config: JobConfig,
    date: dt.date,
    *,
    client: Any = None,
    storage_options: dict[str, Any] | None = None,
    progress: bool = False,
    start: dt.date | None = None,
) -> JobResult:
    """Ingest ``date`` (and its ``lookback_days``) over the region, predict, publish.

    When the ingest failed for any (day, tile) of the window, nothing is predicted or
    published (``result.predict is None``, ``result.ok`` False): a retry of the job ingests
    the failed tiles again and then predicts the whole window. Days already complete are
    skipped unless their input changed (a late granule).

    Parameters
    ----------
    config
        The validated job.
    date
        The day to process.
    client
        A ``distributed.Client``; otherwise ``config.scheduler`` or a local cluster.
    storage_options
        fsspec options for the cubes (defaults come from the environment).
    progress
        Show the ingest progress bar.
    start
        First day of the window (a backfill: ``start .. date`` in one run, one ingest and one
        prediction over the window, on one Dask cluster); default ``date - lookback_days``.
    """
    from lstcloud.cluster import client_context
    from lstcloud.inference import predict_cube
    from lstcloud.ingest import ingest

    t0 = time.perf_counter()
    days = job_window(config, date, start=start)
    with (
        client_context(client if client is not None else config.scheduler) as cl,
        cl.as_current(),  # the stages' as_completed() find this client as the default one
    ):
        ingested = ingest(
            provider=config.provider,
            stac_url=config.stac_url,
            region=config.region,
            start=days[0],
            end=days[-1],
            cube_url=config.cube_url,
            client=cl,
            include_night=config.include_night,
            lst_product=config.lst_product,
            ndvi_product=config.ndvi_product,
            storage_options=storage_options,
            chunks_1km=config.chunks_1km,
            progress=progress,
            qc_policy=config.qc_policy,
            recheck_no_input=config.lookback_days > 0,
        )
        failures = _ingest_failures(ingested, days)
        if failures:
            log.error(
                "ingest failed for %s: not predicting or publishing",
                ", ".join(
                    f"{getattr(o, 'date', '?')} {getattr(o, 'tile', '?')}" for o in failures
                ),
            )
            return JobResult(
                date=date,
                ingest=ingested,
                predict=None,
                collection=None,
                seconds=time.perf_counter() - t0,
                days=days,
            )
        predicted = predict_cube(
            cube_url=config.cube_url,
            model=config.model,
            out_url=config.product_url,
            start=days[0],
            end=days[-1],
            client=cl,
            device=config.device,
            storage_options=storage_options,
            tile_1km=config.tile_1km,
            batch_size=config.batch_size,
        )
    collection = None
    if config.publish is not None:
        from lstcloud.publish import publish_collection

        extra = {
            k: v
            for k, v in (
                ("collection_id", config.publish.collection_id),
                ("asset_href", config.publish.asset_href),
                ("out_href", config.publish.out_href),
                ("api_url", config.publish.api_url),
            )
            if v
        }
        collection = publish_collection(
            product_url=config.product_url,
            out_dir=config.publish.out_dir,
            cog=config.publish.cog,
            storage_options=storage_options,
            **extra,
        )
    return JobResult(
        date=date,
        ingest=ingested,
        predict=predicted,
        collection=collection,
        seconds=time.perf_counter() - t0,
        days=days,
    )
