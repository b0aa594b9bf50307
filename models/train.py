#!/usr/bin/env python3
"""Offline trainer for trustline's anomaly model (tail-sum or Isolation Forest → ONNX + model card).

Python is used for OFFLINE training only; the processor scores with onnxruntime-node and never
needs Python. Usually run through `npm run train`, which creates `models/.venv`, installs the
pinned `models/requirements.txt` and calls this script.

Input: a feature CSV written by `npx trustline features <fixture files> --out <csv>` (the same
feature code path as serving). Header: `agentId,eventId,ts,<feature_1>,...,<feature_N>`; the
first three columns are identifiers, every remaining column is a feature, in model input order.
Feature names are never hard-coded here; the tail-sum family reads each feature's risk
direction and family from FEATURES in src/core/features.ts (or --risk / --groups).

Families (--family): `tail_sum` (default; per-feature empirical right tails summed, ECOD-style,
see TailSumModel and models/README.md) and `iforest` (scikit-learn IsolationForest). Chosen by
validation results: models/EVALUATION.md.

Outputs (in --out-dir, default `models/`):
  <name>.onnx            input `features` float32 [rows, N] → output `anomaly_raw` float32 [rows]
                         (HIGHER = MORE ANOMALOUS: the tail sum >= 0, or -IsolationForest.score_samples)
  <name>.json            the model card (features, calibration, feature stats, data hash, params)
  <name>.reference.json  rows + the Python model's raw scores for the TypeScript parity test

Deterministic: same CSV bytes + same arguments + same pinned libraries → byte-identical ONNX,
card and reference file (no timestamps, fixed seeds, single-threaded verification).

Also: `--make-synthetic PATH` writes a seeded synthetic CSV of the same shape, for testing the
pipeline before real fixtures exist. Models trained on synthetic data are refused in `models/`
unless --allow-synthetic is given; they are for tests (see test/fixtures/model-tiny/).
"""
from __future__ import annotations

import argparse
import csv
import glob
import hashlib
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NoReturn

import numpy as np

REPO = Path(__file__).resolve().parent.parent
ID_COLUMNS = ("agentId", "eventId", "ts")
SYNTHETIC_AGENT_PREFIX = "synthetic-"
# Raw-score quantiles stored in the card; the runtime interpolates the empirical CDF between them.
CALIBRATION_PROBABILITIES = (
    0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.98, 0.99, 0.995, 0.998, 0.999, 0.9995, 0.9999, 1.0,
)
ONNX_OPSET = 17          # default domain; onnxruntime(-node) 1.30 supports up to well beyond this
ONNX_ML_OPSET = 3        # ai.onnx.ml (TreeEnsembleRegressor v3)
ONNX_IR_VERSION = 8      # IR version matching opset 17; accepted by onnxruntime >= 1.13
PARITY_MAX_REL_ERROR = 1e-5  # ONNX vs scikit-learn on every training row, checked at train time


def log(msg: str) -> None:
    print(f"[train] {msg}", file=sys.stderr, flush=True)


def fail(msg: str) -> NoReturn:
    print(f"[train] error: {msg}", file=sys.stderr, flush=True)
    sys.exit(2)


def rel(path: Path) -> str:
    """Repository-relative POSIX path when inside the repo (cards must not embed machine paths)."""
    p = path.resolve()
    try:
        return p.relative_to(REPO).as_posix()
    except ValueError:
        return p.as_posix()


# --------------------------------------------------------------------------------------------
# Synthetic data (tests only)
# --------------------------------------------------------------------------------------------

def make_synthetic(path: Path, rows: int, n_features: int, seed: int) -> None:
    """Seeded synthetic feature CSV: a mix of gaussian, exponential, log-normal and 0/1 columns."""
    rng = np.random.default_rng(seed)
    kinds = ("gauss", "exp", "lognorm", "flag")
    cols, names = [], []
    for j in range(n_features):
        kind = kinds[j % len(kinds)]
        if kind == "gauss":
            c = rng.normal(loc=0.0, scale=1.0, size=rows)
        elif kind == "exp":
            c = rng.exponential(scale=1.0, size=rows)
        elif kind == "lognorm":
            c = rng.lognormal(mean=0.0, sigma=0.75, size=rows)
        else:
            c = (rng.random(rows) < 0.05).astype(np.float64)
        cols.append(c.astype(np.float32))
        names.append(f"syn_{j:02d}_{kind}")
    X = np.stack(cols, axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        fh.write(",".join((*ID_COLUMNS, *names)) + "\n")
        for i in range(rows):
            vals = ",".join(repr(float(v)) for v in X[i])
            fh.write(f"{SYNTHETIC_AGENT_PREFIX}agent-{i % 97},{SYNTHETIC_AGENT_PREFIX}e{i},{1700000000000 + i * 1000},{vals}\n")
    log(f"wrote synthetic CSV {path} ({rows} rows × {n_features} features, seed {seed})")


# --------------------------------------------------------------------------------------------
# Input
# --------------------------------------------------------------------------------------------

def export_features(fixtures: list[Path], out: Path) -> None:
    """Run trustline's own feature exporter (one feature code path for training and serving)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    # --exclude-attacks: fit on benign behaviour only (labelled attack events still update baselines).
    # From this checkout's sources (not a possibly stale dist/ build), as `trustline features` runs them.
    cmd = ["node", "--import", "tsx", "lab/eval/trustline-src.ts", "features", *[str(f) for f in fixtures], "--out", str(out), "--exclude-attacks"]
    log(f"exporting features: {' '.join(cmd)}")
    try:
        subprocess.run(cmd, cwd=REPO, check=True)
    except FileNotFoundError:
        fail("node not found: install Node 20 and run `npm ci`, or pass --features <csv>")
    except subprocess.CalledProcessError as e:
        fail(f"feature export failed (exit {e.returncode}); run the command above to see why, or pass --features <csv>")


def build_feature_version() -> str:
    """FEATURE_VERSION of this checkout's feature code (the build that `trustline features` runs)."""
    code = "import('./src/core/features.ts').then((m) => process.stdout.write(String(m.FEATURE_VERSION)))"
    try:
        r = subprocess.run(["node", "--import", "tsx", "-e", code], cwd=REPO, check=True, capture_output=True, text=True)
    except (FileNotFoundError, subprocess.CalledProcessError) as e:
        detail = getattr(e, "stderr", "") or str(e)
        fail(f"cannot read FEATURE_VERSION from src/core/features.ts ({detail.strip()[:300]}); pass --feature-version")
    v = r.stdout.strip()
    if not v or v == "undefined":
        fail("src/core/features.ts exports no FEATURE_VERSION; pass --feature-version")
    return v


def read_csv(path: Path) -> tuple[list[str], np.ndarray, bool, bytes]:
    """→ (feature names, float32 matrix [rows, N], all rows synthetic?, raw CSV bytes)."""
    try:
        data = path.read_bytes()
    except OSError as e:
        fail(f"cannot read feature CSV {path}: {e}")
    reader = csv.reader(data.decode("utf-8").splitlines())
    try:
        header = next(reader)
    except StopIteration:
        fail(f"{path} is empty")
    if tuple(header[:3]) != ID_COLUMNS:
        fail(f"{path}: header must start with {','.join(ID_COLUMNS)}, got {','.join(header[:3])!r}")
    names = header[3:]
    if not names:
        fail(f"{path}: no feature columns after {','.join(ID_COLUMNS)}")
    if any(not n.strip() for n in names):
        fail(f"{path}: empty feature name in header")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        fail(f"{path}: duplicate feature names {dupes}")
    width = len(header)
    rows: list[list[float]] = []
    synthetic = True
    for lineno, rec in enumerate(reader, start=2):
        if not rec:
            continue
        if len(rec) != width:
            fail(f"{path}:{lineno}: expected {width} columns, got {len(rec)}")
        try:
            vals = [float(v) for v in rec[3:]]
        except ValueError:
            bad = next(i for i, v in enumerate(rec[3:]) if not _is_float(v))
            fail(f"{path}:{lineno}: feature {names[bad]!r} is not a number: {rec[3 + bad]!r}")
        for i, v in enumerate(vals):
            if not math.isfinite(v):
                fail(f"{path}:{lineno}: feature {names[i]!r} is not finite: {rec[3 + i]!r}")
        synthetic = synthetic and rec[0].startswith(SYNTHETIC_AGENT_PREFIX)
        rows.append(vals)
    if len(rows) < 2:
        fail(f"{path}: need at least 2 data rows, got {len(rows)}")
    X = np.asarray(rows, dtype=np.float64).astype(np.float32)
    if not np.all(np.isfinite(X)):
        fail(f"{path}: values overflow float32")
    return names, X, synthetic, data


def _is_float(v: str) -> bool:
    try:
        float(v)
        return True
    except ValueError:
        return False


# --------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------

def average_path_length(n: np.ndarray) -> np.ndarray:
    """c(n): average path length of an unsuccessful BST search (Liu et al.; as scikit-learn)."""
    n = np.asarray(n, dtype=np.float64)
    out = np.zeros_like(n)
    out[n == 2] = 1.0
    m = n > 2
    out[m] = 2.0 * (np.log(n[m] - 1.0) + np.euler_gamma) - 2.0 * (n[m] - 1.0) / n[m]
    return out


def float32_at_or_below(t: float) -> float:
    """Largest float32 ≤ t: for every float32 x, `x <= t` ⇔ `x <= result` (exact split parity)."""
    t32 = np.float32(t)
    if float(t32) > t:
        t32 = np.nextafter(t32, np.float32(-np.inf))
    return float(t32)


def export_compact(model, n_features: int, input_name: str, output_name: str):
    """One TreeEnsembleRegressor holding every tree; each leaf's weight is that tree's path length
    (edge depth + c(leaf samples)); SUM over trees, then raw = exp(-ln2 · sum / (T · c(ψ))) =
    2^(-E[h(x)]/c(ψ)) = -score_samples(x). Thresholds are rounded down to float32 so splits on
    float32 inputs go exactly as in scikit-learn (which also casts inputs to float32)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    subsample = model._max_features != n_features  # same rule as IsolationForest.score_samples
    tree_ids, node_ids, feat_ids, values, modes, true_ids, false_ids = [], [], [], [], [], [], []
    t_tree, t_node, t_weight = [], [], []
    for ti, (est, feats) in enumerate(zip(model.estimators_, model.estimators_features_)):
        tree = est.tree_
        left, right = tree.children_left, tree.children_right
        depth = np.zeros(tree.node_count, dtype=np.int64)
        for n in range(tree.node_count):  # parents precede children in sklearn's node order
            if left[n] != -1:
                depth[left[n]] = depth[n] + 1
                depth[right[n]] = depth[n] + 1
        leaf_len = depth + average_path_length(tree.n_node_samples)
        for n in range(tree.node_count):
            tree_ids.append(ti)
            node_ids.append(n)
            if left[n] == -1:
                feat_ids.append(0)
                values.append(0.0)
                modes.append("LEAF")
                true_ids.append(0)
                false_ids.append(0)
                t_tree.append(ti)
                t_node.append(n)
                t_weight.append(float(leaf_len[n]))
            else:
                f = int(tree.feature[n])
                feat_ids.append(int(feats[f]) if subsample else f)
                values.append(float32_at_or_below(float(tree.threshold[n])))
                modes.append("BRANCH_LEQ")
                true_ids.append(int(left[n]))
                false_ids.append(int(right[n]))
    denom = len(model.estimators_) * float(average_path_length(np.array([model._max_samples]))[0])
    k = -math.log(2.0) / denom if denom > 0 else 0.0
    nodes = [
        helper.make_node(
            "TreeEnsembleRegressor", [input_name], ["path_length_sum"], domain="ai.onnx.ml", name="iforest",
            n_targets=1, aggregate_function="SUM", post_transform="NONE",
            nodes_treeids=tree_ids, nodes_nodeids=node_ids, nodes_featureids=feat_ids, nodes_values=values,
            nodes_modes=modes, nodes_truenodeids=true_ids, nodes_falsenodeids=false_ids,
            target_treeids=t_tree, target_nodeids=t_node, target_ids=[0] * len(t_tree), target_weights=t_weight,
        ),
        helper.make_node("Mul", ["path_length_sum", "neg_ln2_over_denominator"], ["log_raw"], name="scale"),
        helper.make_node("Exp", ["log_raw"], ["raw_2d"], name="exp"),
        helper.make_node("Reshape", ["raw_2d", "flat_shape"], [output_name], name="flatten"),
    ]
    graph = helper.make_graph(
        nodes, "trustline_iforest",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["rows", n_features])],
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, ["rows"])],
        initializer=[
            numpy_helper.from_array(np.array([k], dtype=np.float32), "neg_ln2_over_denominator"),
            numpy_helper.from_array(np.array([-1], dtype=np.int64), "flat_shape"),
        ],
    )
    onx = helper.make_model(
        graph, producer_name="trustline models/train.py", producer_version="1", ir_version=ONNX_IR_VERSION,
        opset_imports=[helper.make_opsetid("", ONNX_OPSET), helper.make_opsetid("ai.onnx.ml", ONNX_ML_OPSET)],
    )
    onnx.checker.check_model(onx, full_check=True)
    return onx


def export_skl2onnx(model, n_features: int, input_name: str, output_name: str):
    """skl2onnx's IsolationForest converter (one sub-graph per tree; ~5x slower to run, ~500x
    slower to load than the compact graph), post-edited so the single output is
    `anomaly_raw` = -score_samples = -(decision_function + offset_), shape [rows]."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    onx = convert_sklearn(
        model, initial_types=[(input_name, FloatTensorType([None, n_features]))],
        target_opset={"": ONNX_OPSET, "ai.onnx.ml": ONNX_ML_OPSET},
    )
    g = onx.graph
    g.initializer.extend([
        numpy_helper.from_array(np.array([float(model.offset_)], dtype=np.float32), "iforest_offset"),
        numpy_helper.from_array(np.array([-1], dtype=np.int64), "flat_shape"),
    ])
    g.node.extend([
        helper.make_node("Neg", ["scores"], ["neg_scores"], name="neg_decision"),
        helper.make_node("Sub", ["neg_scores", "iforest_offset"], ["raw_2d"], name="minus_offset"),
        helper.make_node("Reshape", ["raw_2d", "flat_shape"], [output_name], name="flatten"),
    ])
    del g.output[:]
    g.output.append(helper.make_tensor_value_info(output_name, TensorProto.FLOAT, ["rows"]))
    # Drop the now-unused `label` branch.
    onx = onnx.utils.Extractor(onx).extract_model([input_name], [output_name])
    onx.ir_version = ONNX_IR_VERSION
    onx.producer_name = "trustline models/train.py (skl2onnx)"
    onx.graph.name = "trustline_iforest"  # skl2onnx/Extractor names graphs with a random uuid
    onx.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "rows"
    onnx.checker.check_model(onx, full_check=True)
    return onx


# --------------------------------------------------------------------------------------------
# ECOD-style model: sum of per-feature empirical tail scores, exported as one tree per feature
# --------------------------------------------------------------------------------------------

class TailSumModel:
    """Unsupervised, additive: raw(x) = Σ_j max(0, s_j(x_j) − floor) over the risk features j (high =
    risky), with s_j(x) = −log10(P_train(X_j ≥ x)) (+1 smoothing) — the right-tail half of ECOD
    (Li et al., 2022), with tails chosen by the feature's declared risk direction instead of
    skewness, and an exponential extrapolation beyond the training maximum (continuing the slope
    of the last tail decade, capped at `cap` decades per feature). Context features (risk 0)
    contribute 0. The floor drops each feature's ordinary range (floor 1 = below its p90), so the
    many small tail scores of an ordinary event do not add up to look like one far-out feature.

    s_j is a step function on a grid of thresholds (1/`steps_per_decade` of a decade of tail
    probability apart, plus the extrapolated points), evaluated identically by numpy and by the
    exported ONNX TreeEnsembleRegressor (one balanced tree per feature, thresholds rounded down
    to float32, SUM aggregation)."""

    def __init__(self, risk: list[int], steps_per_decade: int = 8, cap: float = 8.0, floor: float = 0.0,
                 groups: list[str] | None = None, aggregate: str = "sum"):
        self.risk = risk
        self.groups = groups
        self.aggregate = aggregate
        self.steps = steps_per_decade
        self.cap = cap
        self.floor = floor
        self.bounds: list[np.ndarray] = []   # per feature: float32 thresholds, increasing
        self.values: list[np.ndarray] = []   # per feature: len(bounds) + 1 region scores

    def fit(self, X: np.ndarray) -> "TailSumModel":
        n, d = X.shape
        top = math.log10(n + 1)
        for j in range(d):
            if not self.risk[j]:
                self.bounds.append(np.zeros(0, dtype=np.float32))
                self.values.append(np.zeros(1))
                continue
            col = np.sort(X[:, j].astype(np.float64))
            levels = np.arange(0, int(math.floor(top * self.steps)) + 1) / self.steps
            probs = np.clip(1.0 - 10.0 ** (-levels), 0.0, 1.0)
            cand = np.unique(np.quantile(col, probs, method="lower"))
            cand = np.unique(np.append(cand, col[-1]))
            # Region (b[i-1], b[i]]: the lowest score in it, −log10((#{X > b[i-1]} + 1)/(n + 1)).
            gt = n - np.searchsorted(col, cand, side="right")
            scores = -np.log10((gt + 1.0) / (n + 1.0))
            mx = float(col[-1])
            q99 = float(np.quantile(col, 0.99, method="lower"))
            s_max = float(scores[-1])                     # beyond the maximum: log10(n + 1)
            s_q99 = float(-np.log10((n - np.searchsorted(col, q99, side="right") + 1.0) / (n + 1.0)))
            bounds = list(cand)
            vals = [0.0] + list(scores)
            if mx > q99 and s_max > s_q99:
                slope = (s_max - s_q99) / (mx - q99)      # decades of tail probability per unit
                k = 1
                while s_max + 0.5 * k <= self.cap:
                    bounds.append(mx + (0.5 * k) / slope)
                    vals.append(s_max + 0.5 * k)
                    k += 1
            else:
                bounds.append(float(np.nextafter(np.float32(mx), np.float32(np.inf))))
                vals.append(self.cap)
            b32 = np.array([float32_at_or_below(b) for b in bounds], dtype=np.float32)
            keep = np.concatenate([[True], b32[1:] > b32[:-1]])  # rounding may merge thresholds
            self.bounds.append(b32[keep])
            v = np.array(vals)
            v = np.maximum(0.0, np.concatenate([[v[0]], v[1:][keep]]) - self.floor)
            self.values.append(v.astype(np.float32).astype(np.float64))
        return self

    def contributions(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        out = np.zeros(X.shape, dtype=np.float64)
        for j in range(X.shape[1]):
            if len(self.bounds[j]) == 0:
                continue
            idx = np.searchsorted(self.bounds[j], X[:, j], side="left")  # b[i-1] < x <= b[i]
            out[:, j] = self.values[j][idx]
        return out

    def group_index(self) -> list[list[int]]:
        """Risk features by group, in order of first appearance (aggregate family_max)."""
        order: list[str] = []
        members: dict[str, list[int]] = {}
        for j, g in enumerate(self.groups or []):
            if not self.risk[j]:
                continue
            if g not in members:
                order.append(g)
                members[g] = []
            members[g].append(j)
        return [members[g] for g in order]

    def raw(self, X: np.ndarray) -> np.ndarray:
        c = self.contributions(X)
        if self.aggregate == "sum":
            return c.sum(axis=1)
        # family_max: each family of features counts once, with its most unusual member.
        return np.sum([c[:, idx].max(axis=1) for idx in self.group_index()], axis=0)

    def export(self, n_features: int, input_name: str, output_name: str):
        import onnx
        from onnx import TensorProto, helper, numpy_helper

        tree_ids, node_ids, feat_ids, values, modes, true_ids, false_ids = [], [], [], [], [], [], []
        t_tree, t_node, t_weight, t_target = [], [], [], []
        per_feature = self.aggregate == "family_max"
        for j in range(n_features):
            b, v = self.bounds[j], self.values[j]
            counter = [0]

            def build(lo: int, hi: int) -> int:
                node = counter[0]
                counter[0] += 1
                tree_ids.append(j)
                node_ids.append(node)
                if lo == hi:
                    feat_ids.append(0)
                    values.append(0.0)
                    modes.append("LEAF")
                    true_ids.append(0)
                    false_ids.append(0)
                    t_tree.append(j)
                    t_node.append(node)
                    t_weight.append(float(v[lo]))
                    t_target.append(j if per_feature else 0)
                    return node
                mid = (lo + hi) // 2  # regions lo..mid ≤ b[mid] < regions mid+1..hi
                k = len(feat_ids)
                feat_ids.append(j)
                values.append(float(b[mid]))
                modes.append("BRANCH_LEQ")
                true_ids.append(0)
                false_ids.append(0)
                true_ids[k] = build(lo, mid)
                false_ids[k] = build(mid + 1, hi)
                return node

            build(0, len(b))
        ensemble = helper.make_node(
            "TreeEnsembleRegressor", [input_name], ["contrib" if per_feature else "raw_2d"], domain="ai.onnx.ml", name="tail_scores",
            n_targets=n_features if per_feature else 1, aggregate_function="SUM", post_transform="NONE",
            nodes_treeids=tree_ids, nodes_nodeids=node_ids, nodes_featureids=feat_ids, nodes_values=values,
            nodes_modes=modes, nodes_truenodeids=true_ids, nodes_falsenodeids=false_ids,
            target_treeids=t_tree, target_nodeids=t_node, target_ids=t_target, target_weights=t_weight,
        )
        initializers = [numpy_helper.from_array(np.array([-1], dtype=np.int64), "flat_shape")]
        if per_feature:
            # contrib [rows, n] → pad a zero column → gather [rows, groups, width] (short groups padded
            # with the zero column) → max over each group → sum over groups.
            groups = self.group_index()
            width = max(len(g) for g in groups)
            index = np.array([g + [n_features] * (width - len(g)) for g in groups], dtype=np.int64)
            initializers += [
                numpy_helper.from_array(np.array([0, 0, 0, 1], dtype=np.int64), "pad_one_column"),
                numpy_helper.from_array(index, "group_index"),
                numpy_helper.from_array(np.array([1], dtype=np.int64), "sum_axes"),
            ]
            nodes = [
                ensemble,
                helper.make_node("Pad", ["contrib", "pad_one_column"], ["contrib_padded"], name="zero_column", mode="constant"),
                helper.make_node("Gather", ["contrib_padded", "group_index"], ["by_group"], name="by_group", axis=1),
                helper.make_node("ReduceMax", ["by_group"], ["group_max"], name="group_max", axes=[2], keepdims=0),
                helper.make_node("ReduceSum", ["group_max", "sum_axes"], [output_name], name="sum_groups", keepdims=0),
            ]
        else:
            nodes = [ensemble, helper.make_node("Reshape", ["raw_2d", "flat_shape"], [output_name], name="flatten")]
        graph = helper.make_graph(
            nodes, "trustline_tail_sum",
            [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["rows", n_features])],
            [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, ["rows"])],
            initializer=initializers,
        )
        onx = helper.make_model(
            graph, producer_name="trustline models/train.py", producer_version="1", ir_version=ONNX_IR_VERSION,
            opset_imports=[helper.make_opsetid("", ONNX_OPSET), helper.make_opsetid("ai.onnx.ml", ONNX_ML_OPSET)],
        )
        onnx.checker.check_model(onx, full_check=True)
        return onx


def build_feature_info(names: list[str]) -> tuple[list[int], list[str]]:
    """Risk direction (1: high is risky, 0: context) and family of each feature, from this checkout's FEATURES."""
    code = ("import('./src/core/features.ts').then((m) => process.stdout.write(JSON.stringify("
            "Object.fromEntries(m.FEATURES.map((f) => [f.name, [f.risk, f.family]])))))")
    try:
        r = subprocess.run(["node", "--import", "tsx", "-e", code], cwd=REPO, check=True, capture_output=True, text=True)
    except (FileNotFoundError, subprocess.CalledProcessError) as e:
        detail = getattr(e, "stderr", "") or str(e)
        fail(f"cannot read FEATURES from src/core/features.ts ({detail.strip()[:300]}); pass --risk")
    info = json.loads(r.stdout)
    missing = [n for n in names if n not in info]
    if missing:
        fail(f"features {missing} of the CSV are not in src/core/features.ts; pass --risk and --groups")
    return [int(info[n][0]) for n in names], [str(info[n][1]) for n in names]


def run_onnx(onnx_bytes: bytes, input_name: str, output_name: str, X: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1  # deterministic summation order
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(onnx_bytes, so, providers=["CPUExecutionProvider"])
    out = sess.run([output_name], {input_name: X})[0]
    return np.asarray(out, dtype=np.float64).reshape(-1)


# --------------------------------------------------------------------------------------------
# Card and reference
# --------------------------------------------------------------------------------------------

def quantiles(v: np.ndarray, probs) -> list[float]:
    return [float(q) for q in np.quantile(np.asarray(v, dtype=np.float64), probs, method="linear")]


def extreme_rows(X: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Deterministic rows far outside the training range (for parity on the tail)."""
    rng = np.random.default_rng(seed)
    lo, hi = X.min(axis=0).astype(np.float64), X.max(axis=0).astype(np.float64)
    mid = np.median(X, axis=0).astype(np.float64)
    span = np.maximum(hi - lo, 1.0)
    N = X.shape[1]
    out = []
    for j in range(n):
        if j == 0:
            row = hi + 10.0 * span                       # everything far above the max
        elif j == 1:
            row = lo - 10.0 * span                       # everything far below the min
        elif j == 2:
            row = np.zeros(N)
        else:
            row = mid.copy()
            k = 1 + (j % N)
            cols = rng.choice(N, size=k, replace=False)
            up = rng.random(k) < 0.75
            mult = 1.0 + rng.random(k) * 5.0
            row[cols] = np.where(up, hi[cols] + mult * span[cols], lo[cols] - mult * span[cols])
        out.append(row)
    return np.asarray(out, dtype=np.float64).astype(np.float32)


def write_json(path: Path, obj) -> None:
    text = json.dumps(obj, indent=2, allow_nan=False, ensure_ascii=False) + "\n"
    path.write_text(text, encoding="utf-8")


def toolchain() -> dict:
    import onnx
    import onnxruntime
    import sklearn

    out = {
        "python": ".".join(platform.python_version_tuple()[:2]),
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
    }
    try:
        import skl2onnx

        out["skl2onnx"] = skl2onnx.__version__
    except ImportError:
        pass
    return out


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------

def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="models/train.py",
        description="Train trustline's Isolation Forest on exported features and write <name>.onnx, "
        "<name>.json (model card) and <name>.reference.json.",
    )
    src = p.add_argument_group("training data")
    src.add_argument("--features", type=Path, help="feature CSV to train on (skips the exporter)")
    src.add_argument("--fixtures", nargs="+", default=["fixtures/train/*.jsonl*"],
                     help="fixture files/globs for `trustline features` when --features is not given (default: fixtures/train/*.jsonl*)")
    src.add_argument("--cache", type=Path, default=Path("models/.cache/features.csv"),
                     help="where the exporter writes the CSV (default: models/.cache/features.csv)")
    src.add_argument("--files", nargs="+",
                     help="source files to record in the card (default: the fixtures exported, or the CSV path)")
    out = p.add_argument_group("model")
    out.add_argument("--feature-version", help="feature-vector version the CSV was exported with (recorded in the card; "
                     "the processor refuses a model whose featureVersion differs from its own). "
                     "Default: FEATURE_VERSION of this checkout (src/core/features.ts)")
    out.add_argument("--name", default="trustline-tailsum")
    out.add_argument("--model-version", default="3", help='card "version" (default 3)')
    out.add_argument("--out-dir", type=Path, default=Path("models"))
    out.add_argument("--family", choices=("iforest", "tail_sum"), default="tail_sum",
                     help="model family: iforest (Isolation Forest) or tail_sum (ECOD-style per-feature tail scores); see models/README.md")
    out.add_argument("--seed", type=int, default=20240611)
    out.add_argument("--n-estimators", type=int, default=100)
    out.add_argument("--max-samples", default="256", help='int, fraction in (0,1], or "auto" (default 256)')
    out.add_argument("--max-features", type=float, default=1.0)
    out.add_argument("--exporter", choices=("compact", "skl2onnx"), default="compact",
                     help="ONNX graph builder (default compact: one TreeEnsembleRegressor; see models/README.md)")
    out.add_argument("--steps-per-decade", type=int, default=8, help="tail_sum: thresholds per decade of tail probability (default 8)")
    out.add_argument("--cap-decades", type=float, default=8.0, help="tail_sum: largest score of one feature, in decades (default 8)")
    out.add_argument("--floor-decades", type=float, default=1.0, help="tail_sum: decades subtracted from each feature's score, floored at 0 (default 1: only the part beyond its p90 counts, a truncated-product combination)")
    out.add_argument("--aggregate", choices=("sum", "family_max"), default="sum",
                     help="tail_sum: add every feature's score (sum, default) or, per feature family, only the largest (family_max)")
    out.add_argument("--groups", help="tail_sum: comma-separated family per feature (with --risk); default: FEATURES of src/core/features.ts")
    out.add_argument("--risk", help="tail_sum: comma-separated 1/0 per feature (1 = high is risky); default: FEATURES of src/core/features.ts")
    out.add_argument("--reference-rows", type=int, default=200)
    out.add_argument("--reference-extremes", type=int, default=20)
    out.add_argument("--allow-synthetic", action="store_true", help="allow writing a synthetic-data model into models/")
    syn = p.add_argument_group("synthetic data (tests)")
    syn.add_argument("--make-synthetic", type=Path, metavar="CSV", help="write a seeded synthetic feature CSV and exit")
    syn.add_argument("--synthetic-rows", type=int, default=50000)
    syn.add_argument("--synthetic-features", type=int, default=20)
    return p.parse_args(argv)


def parse_max_samples(v: str):
    if v == "auto":
        return "auto"
    try:
        return int(v)
    except ValueError:
        f = float(v)
        if not 0.0 < f <= 1.0:
            fail(f"--max-samples fraction must be in (0, 1], got {v}")
        return f


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    os.chdir(REPO)

    if args.make_synthetic:
        make_synthetic(args.make_synthetic, args.synthetic_rows, args.synthetic_features, args.seed)
        return 0

    if not args.feature_version:
        args.feature_version = build_feature_version()
        log(f"feature version {args.feature_version} (FEATURE_VERSION of this checkout; pass --feature-version "
            "when the CSV was exported by another build)")

    # 1. Data.
    t0 = time.perf_counter()
    if args.features:
        csv_path = args.features
        files = sorted(args.files) if args.files else [rel(csv_path)]
    else:
        fixtures = sorted({Path(f) for pat in args.fixtures for f in (glob.glob(pat) or [pat]) if Path(f).is_file()})
        if not fixtures:
            fail(f"no fixture files match {' '.join(args.fixtures)}; pass --fixtures or --features <csv>")
        csv_path = args.cache
        export_features(fixtures, csv_path)
        files = sorted(args.files) if args.files else [rel(f) for f in fixtures]
    names, X, synthetic, raw_bytes = read_csv(csv_path)
    n_rows, n_feat = X.shape
    log(f"read {n_rows} rows × {n_feat} features from {csv_path} in {time.perf_counter() - t0:.2f}s")
    out_dir = args.out_dir.resolve()
    if synthetic and out_dir == (REPO / "models").resolve() and not args.allow_synthetic:
        fail("refusing to write a model trained on synthetic data into models/ (use --out-dir, or --allow-synthetic)")
    if n_rows < 10000:
        log(f"warning: only {n_rows} rows; calibration above p = 1 - 1/{n_rows + 1} is extrapolated (see models/README.md)")

    # 2. Fit.
    t1 = time.perf_counter()
    if args.family == "iforest":
        from sklearn.ensemble import IsolationForest

        params = {
            "n_estimators": args.n_estimators,
            "max_samples": parse_max_samples(args.max_samples),
            "max_features": args.max_features,
            "bootstrap": False,
            "contamination": "auto",
            "random_state": args.seed,
        }
        model = IsolationForest(**params, n_jobs=1).fit(X)
        score = lambda A: -model.score_samples(A)  # noqa: E731 — HIGHER = MORE ANOMALOUS
        family, raw_doc = "isolation_forest", "-IsolationForest.score_samples, in (0, 1]; higher = more anomalous"
        resolved = {"max_samples_resolved": int(model._max_samples), "input_dtype": "float32", "exporter": args.exporter}
        log(f"fit IsolationForest({args.n_estimators} trees, ψ={model._max_samples}) in {time.perf_counter() - t1:.2f}s")
    else:
        if args.risk:
            risk = [int(v) for v in args.risk.split(",")]
            groups = args.groups.split(",") if args.groups else [f"f{j}" for j in range(n_feat)]
        else:
            risk, groups = build_feature_info(names)
        if len(risk) != n_feat or len(groups) != n_feat:
            fail(f"--risk/--groups have {len(risk)}/{len(groups)} entries for {n_feat} features")
        params = {"steps_per_decade": args.steps_per_decade, "cap_decades": args.cap_decades, "floor_decades": args.floor_decades,
                  "aggregate": args.aggregate, "risk": risk, "groups": groups}
        model = TailSumModel(risk, args.steps_per_decade, args.cap_decades, args.floor_decades, groups, args.aggregate).fit(X)
        score = model.raw
        family = "tail_sum"
        raw_doc = (f"{'sum over feature families of the largest' if args.aggregate == 'family_max' else 'sum over risk features of'} "
                   f"max(0, -log10 P_train(X_j >= x_j) - {args.floor_decades:g}) (ECOD-style right tails, "
                   "extrapolated beyond the training maximum); >= 0, higher = more anomalous")
        resolved = {"thresholds": int(sum(len(b) for b in model.bounds)), "input_dtype": "float32", "exporter": "tree_ensemble"}
        log(f"fit tail-sum model ({sum(risk)} risk features, {resolved['thresholds']} thresholds) in {time.perf_counter() - t1:.2f}s")
    raw_sk = score(X)

    # 3. Export + verify parity on every training row and the extreme rows.
    t2 = time.perf_counter()
    if args.family == "iforest":
        exporter = export_compact if args.exporter == "compact" else export_skl2onnx
        onx = exporter(model, n_feat, "features", "anomaly_raw")
    else:
        onx = model.export(n_feat, "features", "anomaly_raw")
    onnx_bytes = onx.SerializeToString()
    export_s = time.perf_counter() - t2
    extremes = extreme_rows(X, args.reference_extremes, args.seed + 2)
    check_X = np.concatenate([X, extremes]) if len(extremes) else X
    check_sk = np.concatenate([raw_sk, score(extremes)]) if len(extremes) else raw_sk
    check_onnx = run_onnx(onnx_bytes, "features", "anomaly_raw", check_X)
    max_rel = float(np.max(np.abs(check_onnx - check_sk) / np.maximum(np.abs(check_sk), 1e-12)))
    log(f"exported ONNX ({resolved['exporter']}, {len(onnx_bytes)} bytes) in {export_s:.2f}s; "
        f"parity on {len(check_X)} rows: max relative error {max_rel:.2e}")
    if not max_rel <= PARITY_MAX_REL_ERROR:
        fail(f"ONNX scores differ from the Python model by {max_rel:.2e} (> {PARITY_MAX_REL_ERROR:.0e}); not writing the model")

    # 4. Card.
    probs = list(CALIBRATION_PROBABILITIES)
    stats = {}
    for j, name in enumerate(names):
        p50, p90, p99 = quantiles(X[:, j], [0.5, 0.9, 0.99])
        stats[name] = {"p50": p50, "p90": p90, "p99": p99, "max": float(X[:, j].max())}
    onnx_file = f"{args.name}.onnx"
    card = {
        "name": args.name,
        "version": str(args.model_version),
        "family": family,
        "featureVersion": str(args.feature_version),
        "features": names,
        "onnx": onnx_file,
        "onnxSha256": hashlib.sha256(onnx_bytes).hexdigest(),
        "input": "features",
        "output": "anomaly_raw",
        "rawScore": raw_doc,
        "calibration": {
            "method": "empirical_tail",
            "rows": int(n_rows),
            "probabilities": probs,
            "scores": quantiles(raw_sk, probs),
        },
        "featureStats": stats,
        "trainingData": {
            "files": files,
            "rows": int(n_rows),
            "sha256": hashlib.sha256(raw_bytes).hexdigest(),
            "synthetic": bool(synthetic),
        },
        "params": {
            **params,
            **resolved,
            "opset": {"ai.onnx": ONNX_OPSET, "ai.onnx.ml": ONNX_ML_OPSET},
        },
        "evaluation": {
            "onnxParity": {"rows": int(len(check_X)), "maxRelError": max_rel},
        },
        "toolchain": toolchain(),
        "seed": args.seed,
        "createdBy": "models/train.py",
    }

    # Evaluation figures written into an existing card by `npm run eval -- report` stay when the
    # model is byte-identical (same ONNX, same calibration); for any other model they would be stale.
    old_card_path = out_dir / f"{args.name}.json"
    if old_card_path.exists():
        try:
            old = json.loads(old_card_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            old = {}
        if old.get("onnxSha256") == card["onnxSha256"] and old.get("calibration") == card["calibration"]:
            for k, v in (old.get("evaluation") or {}).items():
                if k != "onnxParity":
                    card["evaluation"][k] = v

    # 5. Reference rows for the TypeScript parity test.
    rng = np.random.default_rng(args.seed + 1)
    k = min(args.reference_rows, n_rows)
    idx = np.sort(rng.choice(n_rows, size=k, replace=False))
    ref_X = np.concatenate([X[idx], extremes]) if len(extremes) else X[idx]
    ref_raw = score(ref_X)
    reference = {
        "model": f"{args.name}@{card['version']}",
        "onnxSha256": card["onnxSha256"],
        "features": names,
        "tolerance": {"relative": 1e-4},
        "source": ["train"] * k + ["synthetic_extreme"] * len(extremes),
        "trainingRowIndex": [int(i) for i in idx] + [None] * len(extremes),
        "rows": [[float(v) for v in r] for r in ref_X],
        "raw": [float(v) for v in ref_raw],
    }

    # 6. Write (atomically per file, ONNX first so a card never points at a missing model).
    out_dir.mkdir(parents=True, exist_ok=True)
    for fname, writer in (
        (onnx_file, lambda p: p.write_bytes(onnx_bytes)),
        (f"{args.name}.json", lambda p: write_json(p, card)),
        (f"{args.name}.reference.json", lambda p: write_json(p, reference)),
    ):
        fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=f".{fname}.")
        os.close(fd)
        writer(Path(tmp))
        os.chmod(tmp, 0o644)
        os.replace(tmp, out_dir / fname)
    log(f"wrote {rel(out_dir / onnx_file)}, {args.name}.json, {args.name}.reference.json "
        f"(total {time.perf_counter() - t0:.2f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
