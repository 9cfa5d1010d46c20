"""Checks that a Delta table written by `verocta up` is readable by another Delta reader
(the Python `deltalake` package) and holds the GLA ledger exactly: every row, the right net."""
import os
import sys
from decimal import Decimal

import deltalake

table = deltalake.DeltaTable(sys.argv[1])
data = table.to_pyarrow_table(columns=["class", "amount_minor", "transaction_id"]).to_pylist()
spend = sum(row["amount_minor"] for row in data if row["class"] == "spend")
credit = sum(row["amount_minor"] for row in data if row["class"] == "credit")
ids = {row["transaction_id"] for row in data}
net = Decimal(spend - credit) / 100
print(f"deltalake {deltalake.__version__}: {len(data)} rows, {len(ids)} ids, net {net}")
assert len(data) == 28_145, len(data)
assert len(ids) == len(data), "duplicate transaction ids"
assert net == Decimal("1000083306.00"), net

# Leave without interpreter teardown: with deltalake 1.6.6 and pyarrow 26, about every second
# process that has scanned a table aborts in teardown ("terminate called without an active
# exception", exit 134) after everything above has run — with any table, ours or not, even
# `python3 -c "...to_pyarrow_table()"`. The check is done by then; its result is this exit code.
sys.stdout.flush()
os._exit(0)
