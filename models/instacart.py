"""Converts the Instacart sample (../shared/data/instacart) to the documented input format.

    python -m models.instacart --out build/instacart                 # catalog.csv + events.csv
    python -m models.instacart --out build/instacart-10x --replicate 10
    python -m models.train --catalog build/instacart/catalog.csv --events build/instacart/events.csv ...

catalog.csv: every product (49,688): id = product_id, title = product_name
(the source's `\\"` written as `"`), categories `Department|Aisle` (names
capitalised, e.g. `Dairy Eggs|Yogurt`), and `department` and `aisle` again as
attributes, so a page can tell the two levels apart.

events.csv: one row per order line: user = user_id, item = product_id,
type = purchase, basket = order_id. The data has no dates, so timestamps
are synthetic: every shopper's first order is on 2017-01-01 (UTC) at its
order_hour_of_day; order n is cumulated days_since_prior_order days later
(Instacart caps each gap at 30 days), and the n-th product added to the
cart is n seconds later, so sorting by time gives each shopper's orders in
sequence and each order in cart order. Shoppers' calendars are therefore
aligned at their first order, which matters to nothing that is trained.

--replicate N writes N copies of every shopper, the copies with fresh ids
(user `<id>-r<k>`, basket `<order_id>-r<k>`), for scale runs only: a
replicated file has N times the events and shoppers, the same items.
The data's terms allow non-commercial use only; nothing converted from it is
committed.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import sys
import time
from pathlib import Path

EPOCH = dt.datetime(2017, 1, 1, tzinfo=dt.timezone.utc)


def _name(text: str) -> str:
    return " ".join(word[:1].upper() + word[1:] for word in text.strip().split())


def _rows(path: Path):
    try:
        with open(path, encoding="utf-8", newline="") as file:
            yield from csv.DictReader(file)
    except FileNotFoundError:
        sys.exit(f"instacart: {path} does not exist (see ../shared/data/README.md, Instacart section)")


def write_catalog(source: Path, out: Path) -> int:
    aisles = {row["aisle_id"]: _name(row["aisle"]) for row in _rows(source / "aisles.csv")}
    departments = {row["department_id"]: _name(row["department"]) for row in _rows(source / "departments.csv")}
    count = 0
    with open(out, "w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(["id", "title", "categories", "department", "aisle"])
        for row in _rows(source / "products.csv"):
            department, aisle = departments[row["department_id"]], aisles[row["aisle_id"]]
            title = row["product_name"].replace('\\"', '"').strip()
            writer.writerow([row["product_id"], title, f"{department}|{aisle}", department, aisle])
            count += 1
    return count


def order_times(source: Path) -> dict[str, float]:
    """Seconds after EPOCH at which each order was placed (see the module docstring)."""
    day, previous_user, times = 0.0, None, {}
    for row in _rows(source / "orders_sample.csv"):
        order = row["order_id"]
        if order in times:
            continue
        if row["user_id"] != previous_user:
            day, previous_user = 0.0, row["user_id"]
        elif row["days_since_prior_order"]:
            day += float(row["days_since_prior_order"])
        times[order] = day * 86400 + float(row["order_hour_of_day"]) * 3600
    return times


def write_events(source: Path, out: Path, replicate: int = 1, log=print) -> int:
    times = order_times(source)
    lines = list(_rows(source / "orders_sample.csv"))
    stamps = [EPOCH + dt.timedelta(seconds=times[r["order_id"]] + float(r["add_to_cart_order"] or 0)) for r in lines]
    stamps = [s.isoformat().replace("+00:00", "Z") for s in stamps]
    count, started = 0, time.monotonic()
    with open(out, "w", encoding="utf-8", newline="") as file:
        file.write("user,item,timestamp,type,basket\n")
        for copy in range(replicate):
            suffix = f"-r{copy}" if copy else ""
            file.writelines(f"{r['user_id']}{suffix},{r['product_id']},{stamp},purchase,{r['order_id']}{suffix}\n"
                            for r, stamp in zip(lines, stamps))
            count += len(lines)
            if replicate > 1 and time.monotonic() - started > 5:
                log(f"  copy {copy + 1} of {replicate}: {count:,} events")
                started = time.monotonic()
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parent.parent.parent / "shared" / "data",
                        help="the shared data folder (default ../shared/data from the repository)")
    parser.add_argument("--out", type=Path, required=True, help="folder for catalog.csv and events.csv")
    parser.add_argument("--replicate", type=int, default=1, metavar="N",
                        help="copies of every shopper, with fresh ids (scale runs)")
    args = parser.parse_args()
    if args.replicate < 1:
        parser.error("--replicate must be >= 1")
    source = args.data / "instacart"
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    # Written under temporary names and renamed: a reader never sees half a file.
    catalog, events = args.out / "catalog.csv", args.out / "events.csv"
    items = write_catalog(source, catalog.with_suffix(".csv.partial"))
    count = write_events(source, events.with_suffix(".csv.partial"), args.replicate)
    os.replace(catalog.with_suffix(".csv.partial"), catalog)
    os.replace(events.with_suffix(".csv.partial"), events)
    print(f"wrote {catalog} ({items:,} products) and {events} ({count:,} events, "
          f"{args.replicate} cop{'y' if args.replicate == 1 else 'ies'}) in {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    main()
