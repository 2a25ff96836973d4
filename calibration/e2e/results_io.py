"""Writing result files the way the project requires: to a temporary file, then renamed, so an
interrupted run never leaves a half-written CSV or meta.json. Standard library only."""
import csv
import json
import os


def write_csv(path, rows, fieldnames=None):
    """rows: dicts; the header is `fieldnames`, else the first row's keys."""
    with open(path + ".tmp", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(fieldnames or rows[0].keys()))
        w.writeheader()
        w.writerows(rows)
    os.replace(path + ".tmp", path)


def write_json(path, obj):
    with open(path + ".tmp", "w") as f:
        json.dump(obj, f, indent=2)
    os.replace(path + ".tmp", path)
