#!/usr/bin/env python3
"""Reference folds and metrics from scikit-learn (and scipy's t distribution) for Tests/EvalTests.

    pip install scikit-learn numpy scipy
    python3 Tests/Fixtures/make_sklearn_fixtures.py      # writes Tests/Fixtures/sklearn_eval.json

Folds: for every case the input (labels, groups, k, shuffle) and sklearn's test folds. With shuffle=False
the Swift folds must equal these exactly; with shuffle=True sklearn's numpy RNG cannot be reproduced, so
the Swift tests compare properties (fold sizes, per-class counts per fold, groups per fold).
Metrics: classification and regression inputs and sklearn's values, including tied scores for ROC-AUC
and a class absent from the truth.
Diagnostics (report.diagnostics): roc_curve and precision_recall_curve points, roc_auc_score and
average_precision_score per class (one-vs-rest), calibration_curve bins and the ECE, from their own RNG so
the cases above keep their values.
"""
import json
import os
import warnings

import numpy as np
import scipy.stats
import sklearn
from sklearn.calibration import calibration_curve
from sklearn.metrics import (accuracy_score, average_precision_score, balanced_accuracy_score, confusion_matrix,
                             f1_score, log_loss, mean_absolute_error, mean_squared_error, precision_recall_curve,
                             precision_recall_fscore_support, r2_score, roc_auc_score, roc_curve,
                             root_mean_squared_error)
from sklearn.model_selection import GroupKFold, KFold, StratifiedGroupKFold, StratifiedKFold

rng = np.random.RandomState(7)


def folds_case(name, strategy, k, shuffle, labels=None, groups=None, n=None):
    n = n if n is not None else len(labels if labels is not None else groups)
    X = np.zeros((n, 1))
    cls = {"kfold": KFold, "stratified": StratifiedKFold, "group": GroupKFold,
           "stratified_group": StratifiedGroupKFold}[strategy]
    splitter = cls(n_splits=k, shuffle=shuffle, random_state=0 if shuffle else None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tests = [sorted(int(i) for i in test) for _, test in splitter.split(X, labels, groups)]
    return {"name": name, "strategy": strategy, "k": k, "shuffle": shuffle, "n": n,
            "labels": None if labels is None else [int(v) for v in labels],
            "groups": None if groups is None else [int(v) for v in groups],
            "test_folds": tests,
            "warnings": sum(1 for w in caught if issubclass(w.category, UserWarning))}


def fold_cases():
    cases = []
    for shuffle in (False, True):
        tag = "shuffled" if shuffle else "ordered"
        cases.append(folds_case(f"kfold-23-5-{tag}", "kfold", 5, shuffle, n=23))
        cases.append(folds_case(f"kfold-10-10-{tag}", "kfold", 10, shuffle, n=10))
        # classes in order of first appearance 2, 0, 1 (sklearn re-encodes them), imbalanced
        y = rng.choice([2, 0, 1], size=53, p=[0.5, 0.3, 0.2])
        cases.append(folds_case(f"stratified-53-5-{tag}", "stratified", 5, shuffle, labels=y))
        y = np.array([0] * 30 + [1] * 12 + [2] * 3)
        rng.shuffle(y)
        cases.append(folds_case(f"stratified-small-class-{tag}", "stratified", 4, shuffle, labels=y))
        # group ids not contiguous, several groups of equal size (ties in the greedy order)
        sizes = [5, 3, 5, 8, 2, 3, 5, 1, 8, 4, 3, 2, 6]
        ids = [101, 7, 55, 3, 999, 12, 40, 8, 77, 21, 64, 5, 30]
        g = np.concatenate([[i] * s for i, s in zip(ids, sizes)])
        rng.shuffle(g)
        cases.append(folds_case(f"group-13-4-{tag}", "group", 4, shuffle, groups=g))
        gid = np.repeat(np.arange(16), rng.randint(2, 9, size=16))
        yy = np.array([rng.choice(3, p=[0.6, 0.3, 0.1] if gi % 3 else [0.2, 0.3, 0.5]) for gi in gid])
        perm = rng.permutation(len(gid))
        cases.append(folds_case(f"stratified-group-16-4-{tag}", "stratified_group", 4, shuffle,
                                labels=yy[perm], groups=gid[perm] * 3 + 11))
        gid = np.repeat(np.arange(10), rng.randint(3, 12, size=10))
        yy = rng.randint(0, 2, size=len(gid))
        cases.append(folds_case(f"stratified-group-binary-10-5-{tag}", "stratified_group", 5, shuffle,
                                labels=yy, groups=gid))
    return cases


def classification_case(name, y, p):
    C = p.shape[1]
    labels = list(range(C))
    pred = p.argmax(axis=1)
    P, R, F, S = precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
    out = {"name": name, "labels": [int(v) for v in y], "probabilities": p.tolist(),
           "accuracy": accuracy_score(y, pred),
           "balanced_accuracy": balanced_accuracy_score(y, pred),
           "precision": P.tolist(), "recall": R.tolist(), "f1": F.tolist(), "support": [int(s) for s in S],
           "macro_precision": precision_recall_fscore_support(y, pred, average="macro", zero_division=0)[0],
           "macro_recall": precision_recall_fscore_support(y, pred, average="macro", zero_division=0)[1],
           "macro_f1": f1_score(y, pred, average="macro", zero_division=0),
           "weighted_precision": precision_recall_fscore_support(y, pred, average="weighted", zero_division=0)[0],
           "weighted_recall": precision_recall_fscore_support(y, pred, average="weighted", zero_division=0)[1],
           "weighted_f1": f1_score(y, pred, average="weighted", zero_division=0),
           "confusion": confusion_matrix(y, pred, labels=labels).tolist(),
           "log_loss": log_loss(y, p, labels=labels)}
    per_class = []
    for c in labels:
        yc = (y == c).astype(int)
        per_class.append(roc_auc_score(yc, p[:, c]) if 0 < yc.sum() < len(yc) else None)
    out["roc_auc_per_class"] = per_class
    if C == 2:
        out["roc_auc"] = roc_auc_score(y, p[:, 1])
        fpr, tpr, _ = roc_curve(y, p[:, 1], drop_intermediate=False)
        out["roc_fpr"], out["roc_tpr"] = fpr.tolist(), tpr.tolist()
    elif len(np.unique(y)) == C:
        out["roc_auc"] = roc_auc_score(y, p, multi_class="ovr", average="macro", labels=labels)
    else:  # sklearn's ovr macro is nan here; mmtrain averages the classes where it is defined
        out["roc_auc"] = float(np.mean([v for v in per_class if v is not None]))
    return out


def classification_cases():
    cases = []
    # binary, scores on a coarse grid: many ties between positives and negatives
    y = rng.randint(0, 2, size=40)
    s = np.clip(np.round(0.3 * y + rng.uniform(0, 0.7, size=40), 1), 0, 1)
    cases.append(classification_case("binary-ties", y, np.stack([1 - s, s], axis=1)))
    # binary, continuous scores
    y = rng.randint(0, 2, size=57)
    s = 1 / (1 + np.exp(-(1.5 * (y - 0.5) + rng.normal(size=57))))
    cases.append(classification_case("binary", y, np.stack([1 - s, s], axis=1)))
    # 4 classes, all present, probabilities from a few fixed rows (ties per class)
    rows = rng.dirichlet(np.ones(4), size=6)
    y = rng.randint(0, 4, size=60)
    p = rows[(y + rng.randint(0, 3, size=60)) % 6]
    cases.append(classification_case("multiclass-ties", y, p))
    # 4 classes; class 3 absent from the truth (but sometimes predicted), class 2 absent and never predicted
    y = rng.choice([0, 1], size=45)
    logits = rng.normal(size=(45, 4))
    logits[np.arange(45), y] += 1.2
    logits[:, 2] -= 10
    logits[:7, 3] += 4
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    cases.append(classification_case("multiclass-absent-classes", y, p))
    # 3 classes, confident and wrong on some: log loss clipping
    y = rng.randint(0, 3, size=30)
    p = rng.dirichlet(np.ones(3) * 0.3, size=30)
    p[0] = [1.0, 0.0, 0.0]
    y[0] = 2
    cases.append(classification_case("multiclass-extreme", y, p))
    return cases


def mmsa_sentiment(truth, preds):
    """The MMSA toolkit's eval_mosei_senti (MISA / Self-MM): Has0 = neg vs non-neg, Non0 = zeros dropped."""
    non_zeros = np.array([i for i, e in enumerate(truth) if e != 0])
    a7 = np.sum(np.round(np.clip(preds, -3, 3)) == np.round(np.clip(truth, -3, 3))) / float(len(truth))
    return {"acc2_has0": accuracy_score(truth >= 0, preds >= 0),
            "f1_has0": f1_score(truth >= 0, preds >= 0, average="weighted"),
            "acc2_non0": accuracy_score(truth[non_zeros] > 0, preds[non_zeros] > 0),
            "f1_non0": f1_score(truth[non_zeros] > 0, preds[non_zeros] > 0, average="weighted"),
            "acc7": float(a7)}


def regression_case(name, y, p):
    y2, p2 = y.reshape(len(y), -1), p.reshape(len(p), -1)
    out = {"name": name, "targets": y2.tolist(), "predictions": p2.tolist(),
           "mse": mean_squared_error(y2, p2), "rmse": root_mean_squared_error(y2, p2),
           "mae": mean_absolute_error(y2, p2), "r2": r2_score(y2, p2),
           "pearson": float(np.mean([scipy.stats.pearsonr(y2[:, j], p2[:, j])[0] for j in range(y2.shape[1])]))}
    if y2.shape[1] == 1 and np.all(np.abs(y) <= 3):
        out["sentiment"] = mmsa_sentiment(y2[:, 0], p2[:, 0])
    return out


def regression_cases():
    # MOSI-like scores: multiples of 1/3 in [-3, 3] with zeros, predictions that sometimes hit 0 and x.5
    y = np.round(rng.uniform(-3, 3, size=50) * 3) / 3
    y[:6] = 0
    p = np.clip(0.7 * y + rng.normal(scale=0.8, size=50), -3.5, 3.5)
    p[6], p[7], p[8] = 0.0, 1.5, -2.5
    k2y = rng.normal(size=(40, 2)) * [1, 10]
    k2p = k2y + rng.normal(size=(40, 2))
    return [regression_case("sentiment", y, p), regression_case("two-targets", k2y, k2p)]


def t_cases():
    dfs = list(range(1, 31)) + [40, 60, 100, 1000]
    values = [0.71, 0.74, 0.69, 0.77, 0.72]
    m, s = np.mean(values), np.std(values, ddof=1)
    lo, hi = scipy.stats.t.interval(0.95, len(values) - 1, loc=m, scale=s / np.sqrt(len(values)))
    return {"quantile_975": [{"df": d, "t": scipy.stats.t.ppf(0.975, d)} for d in dfs],
            "quantile_other": [{"p": p, "df": d, "t": scipy.stats.t.ppf(p, d)}
                               for p, d in [(0.9, 3), (0.995, 7), (0.05, 12), (0.6, 2.5)]],
            "cdf": [{"x": x, "df": d, "p": scipy.stats.t.cdf(x, d)} for x, d in [(0.3, 1), (-1.7, 4), (2.2, 9), (5.0, 50)]],
            "summary": {"values": values, "mean": m, "std": s, "ci_low": lo, "ci_high": hi}}


def reliability(hit, conf, n_bins=10):
    """Bins as calibration_curve(strategy="uniform"); ECE = sum_b n_b/N |acc_b - conf_b|."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    ids = np.searchsorted(edges[1:-1], conf)
    count = np.bincount(ids, minlength=n_bins)
    sum_conf = np.bincount(ids, weights=conf, minlength=n_bins)
    sum_hit = np.bincount(ids, weights=hit, minlength=n_bins)
    full = count > 0
    acc, mean_conf = sum_hit[full] / count[full], sum_conf[full] / count[full]
    ece = float(np.sum(count[full] / len(conf) * np.abs(acc - mean_conf)))
    return {"count": count.tolist(), "accuracy": acc.tolist(), "confidence": mean_conf.tolist(), "ece": ece}


def diagnostics_case(name, y, p):
    C = p.shape[1]
    classes = [1] if C == 2 else list(range(C))
    curves = []
    for c in classes:
        yc = (y == c).astype(int)
        fpr, tpr, _ = roc_curve(yc, p[:, c], drop_intermediate=False)
        prec, rec, _ = precision_recall_curve(yc, p[:, c], drop_intermediate=False)
        # sklearn orders PR by falling recall; the Swift curve runs the other way (falling threshold)
        curves.append({"class": c, "roc_fpr": fpr.tolist(), "roc_tpr": tpr.tolist(),
                       "pr_recall": rec[::-1].tolist(), "pr_precision": prec[::-1].tolist(),
                       "auc": roc_auc_score(yc, p[:, c]), "average_precision": average_precision_score(yc, p[:, c])})
    if C == 2:
        cal = reliability((y == 1).astype(float), p[:, 1])
        prob_true, prob_pred = calibration_curve(y, p[:, 1], n_bins=10, strategy="uniform")
        assert np.allclose(prob_true, cal["accuracy"]) and np.allclose(prob_pred, cal["confidence"])
    else:
        top = p.argmax(axis=1)
        cal = reliability((top == y).astype(float), p.max(axis=1))
    return {"name": name, "labels": [int(v) for v in y], "probabilities": p.tolist(), "curves": curves,
            "calibration": cal}


def diagnostics_cases():
    drng = np.random.RandomState(11)
    # binary on a 0.1 grid: tied scores, and probabilities exactly on the bin edges
    y = drng.randint(0, 2, size=48)
    s = np.clip(np.round(0.35 * y + drng.uniform(0, 0.65, size=48), 1), 0, 1)
    cases = [diagnostics_case("binary-grid", y, np.stack([1 - s, s], axis=1))]
    y = drng.randint(0, 2, size=70)
    s = 1 / (1 + np.exp(-(1.2 * (y - 0.5) + drng.normal(size=70))))
    cases.append(diagnostics_case("binary", y, np.stack([1 - s, s], axis=1)))
    y = drng.randint(0, 4, size=80)
    logits = drng.normal(size=(80, 4))
    logits[np.arange(80), y] += 1.0
    p = np.exp(2 * logits) / np.exp(2 * logits).sum(axis=1, keepdims=True)
    cases.append(diagnostics_case("multiclass", y, p))
    return cases


def main():
    out = {"sklearn_version": sklearn.__version__, "numpy_version": np.__version__,
           "folds": fold_cases(), "classification": classification_cases(), "regression": regression_cases(),
           "student_t": t_cases(), "diagnostics": diagnostics_cases()}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sklearn_eval.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
    print(f"wrote {path} (scikit-learn {sklearn.__version__})")


if __name__ == "__main__":
    main()
