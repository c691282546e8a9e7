"""Writes the worked example's events (and the JSON Lines twin of catalog.csv).

    python -m models.examples.make_examples

catalog.csv is written by hand. The events come from a few shopper profiles
written out below (a green-tea drinker, an espresso drinker, ...): each
shopper makes a few visits, views products mostly of their profile, carts
some and buys them as one basket. The same events are written twice, as
CSV (ISO 8601 times) and as JSON Lines (epoch seconds), so both formats are
exercised. Seeded: rerunning gives the same files.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
from pathlib import Path

HERE = Path(__file__).parent

# Each profile lists products in the order a shopper tends to discover them.
PROFILES = {
    "green": ["TEA-001", "TEA-002", "TEA-003", "BRW-006", "BRW-007", "TEA-010", "SNK-004"],
    "black": ["TEA-004", "TEA-005", "SNK-003", "TEA-006", "SNK-001", "GFT-001", "BRW-008"],
    "herbal": ["TEA-007", "TEA-008", "TEA-009", "BRW-008", "SNK-004", "GFT-001"],
    "espresso": ["COF-001", "SNK-005", "BRW-005", "SNK-002", "GFT-002", "COF-002"],
    "pourover": ["BRW-002", "BRW-003", "COF-002", "BRW-001", "BRW-005", "COF-003"],
    "press": ["COF-004", "BRW-004", "COF-005", "SNK-001", "SNK-002"],
}
START = dt.datetime(2025, 3, 3, 8, 0, tzinfo=dt.timezone.utc)


def events(seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    catalog = [row["id"] for row in csv.DictReader(open(HERE / "catalog.csv", encoding="utf-8"))]
    shoppers = [(f"cust-{1000 + n}", rng.choice(sorted(PROFILES))) for n in range(1, 25)]
    shoppers += [(None, rng.choice(sorted(PROFILES))) for _ in range(6)]  # signed-out visitors
    rows, order, session = [], 1000, 0
    for user, profile in shoppers:
        items = PROFILES[profile]
        visits = rng.randint(1, 3) if user else 1
        when = START + dt.timedelta(days=rng.randint(0, 20), hours=rng.randint(0, 10))
        position = 0
        for _ in range(visits):
            session += 1
            sid = f"visit-{session:04d}"
            viewed = []
            for _ in range(rng.randint(2, 3)):
                if rng.random() < 0.85:  # mostly the next products of the profile
                    item = items[position % len(items)]
                    position += 1
                else:
                    item = rng.choice(catalog)
                viewed.append(item)
                when += dt.timedelta(minutes=rng.randint(1, 6))
                rows.append({"user": user, "session": sid, "item": item, "timestamp": when, "type": "view"})
            carted = [i for i in dict.fromkeys(viewed) if rng.random() < 0.6] or viewed[-1:]
            for item in carted:
                when += dt.timedelta(minutes=1)
                rows.append({"user": user, "session": sid, "item": item, "timestamp": when, "type": "cart"})
            if user and rng.random() < 0.8:
                order += 1
                when += dt.timedelta(minutes=2)
                for item in carted:
                    rows.append({"user": user, "session": sid, "item": item, "timestamp": when,
                                 "type": "purchase", "basket": f"o-{order}"})
            when += dt.timedelta(days=rng.randint(3, 12), hours=rng.randint(-3, 3))
    rows.sort(key=lambda r: r["timestamp"])
    return rows


def main() -> None:
    rows = events()
    with open(HERE / "events.csv", "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["user", "session", "item", "timestamp", "type", "basket"])
        for r in rows:
            writer.writerow([r["user"] or "", r["session"], r["item"],
                             r["timestamp"].isoformat().replace("+00:00", "Z"), r["type"], r.get("basket", "")])
    with open(HERE / "events.jsonl", "w", encoding="utf-8") as out:
        for r in rows:
            record = {"user": r["user"], "session": r["session"], "item": r["item"],
                      "timestamp": int(r["timestamp"].timestamp()), "type": r["type"], "basket": r.get("basket")}
            out.write(json.dumps({k: v for k, v in record.items() if v is not None}) + "\n")
    with open(HERE / "catalog.jsonl", "w", encoding="utf-8") as out:
        for row in csv.DictReader(open(HERE / "catalog.csv", encoding="utf-8")):
            record = {"id": row["id"], "title": row["title"], "categories": row["categories"].split("|"),
                      "description": row["description"], "price": float(row["price"]), "currency": row["currency"],
                      "brand": row["brand"], "image_url": row["image_url"], "url": row["url"],
                      "available": row["available"] == "true"}
            if row["caffeine_mg"]:
                record["caffeine_mg"] = int(row["caffeine_mg"])
            if row["organic"]:
                record["organic"] = row["organic"] == "true"
            if row["origin"]:
                record["origin"] = row["origin"]
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} events to {HERE}/events.csv and events.jsonl, and catalog.jsonl")


if __name__ == "__main__":
    main()
