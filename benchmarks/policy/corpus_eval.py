"""Evaluate the policy engine on real brand replies from the IBM CDP Twitter corpus.

The corpus may not be copied into this repository, so ``corpus_labels.tsv`` holds only
references (file, tweet_id, role, label). This script resolves the texts from the corpus at
run time, writes them to a temporary ``label<TAB>text`` file (deleted afterwards unless
``--keep`` is given) and, when the CLI has it, runs ``helpforce policy eval`` on that file.

    .venv/bin/python benchmarks/policy/corpus_eval.py                  # agent replies
    .venv/bin/python benchmarks/policy/corpus_eval.py --role customer  # customers' own posts
    .venv/bin/python benchmarks/policy/corpus_eval.py --print-stats    # counts per label only
    .venv/bin/python benchmarks/policy/corpus_eval.py --corpus /elsewhere/ibm-cdp
    .venv/bin/python benchmarks/policy/corpus_eval.py -- --config config  # after --: eval args

Exit status: 0 on success (or the exit status of ``helpforce policy eval``), 2 when the corpus
or a labelled reference cannot be found.
"""

from __future__ import annotations

import argparse
import csv
import html
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
DEFAULT_LABELS = HERE / "corpus_labels.tsv"
DEFAULT_CORPUS = REPO_ROOT.parent / "shared" / "corpus" / "ibm-cdp"
CORPUS_FILES = ("dev.json", "test.json")


def find_corpus(path: Path) -> Path | None:
    """The directory holding dev.json/test.json: PATH itself or PATH/ibm-cdp."""
    for cand in (path, path / "ibm-cdp"):
        if any((cand / name).is_file() for name in CORPUS_FILES):
            return cand
    return None


def load_labels(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        need = {"file", "tweet_id", "role", "label"}
        if not reader.fieldnames or not need <= set(reader.fieldnames):
            sys.exit(f"{path}: expected a header with {sorted(need)}, got {reader.fieldnames}")
        return list(reader)


def index_corpus(corpus: Path, files: set[str]) -> dict[tuple[str, str], str]:
    """(file, tweet_id) -> message text, for every turn and every agentURL in FILES."""
    texts: dict[tuple[str, str], str] = {}
    for name in sorted(files):
        p = corpus / name
        if not p.is_file():
            sys.exit(f"corpus file {p} not found (labels refer to it); pass --corpus DIR")
        with p.open(encoding="utf-8") as f:
            items = json.load(f)
        for item in items:
            for turn in item.get("dialogContent", []):
                texts.setdefault((name, str(turn["tweet_ID"])), turn["message"])
            agent = item.get("agentURL") or {}
            if "tweet_ID" in agent:
                texts.setdefault((name, str(agent["tweet_ID"])), agent["url_utterance"])
    return texts


def clean(text: str) -> str:
    """Tweets come HTML-escaped (&amp;); a TSV cell can hold neither tabs nor newlines."""
    text = html.unescape(text)
    return " ".join(text.replace("\t", " ").splitlines()).strip()


def helpforce_cmd() -> list[str] | None:
    """How to call the helpforce CLI, if it has `policy eval`."""
    candidates: list[list[str]] = []
    venv = REPO_ROOT / ".venv" / "bin" / "helpforce"
    if venv.is_file() and os.access(venv, os.X_OK):
        candidates.append([str(venv)])
    found = shutil.which("helpforce")
    if found:
        candidates.append([found])
    candidates.append([sys.executable, "-m", "helpforce"])
    for cmd in candidates:
        try:
            r = subprocess.run(
                [*cmd, "policy", "eval", "--help"],
                capture_output=True,
                text=True,
                timeout=60,
                cwd=REPO_ROOT,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if r.returncode == 0:
            return cmd
    return None


def print_counts(title: str, counts: Counter[str]) -> None:
    print(title)
    width = max((len(k) for k in counts), default=5)
    for label, n in sorted(counts.items()):
        print(f"  {label:<{width}}  {n:5d}")
    print(f"  {'total':<{width}}  {sum(counts.values()):5d}")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    passthrough: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, passthrough = argv[:cut], argv[cut + 1 :]
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--corpus",
        type=Path,
        default=DEFAULT_CORPUS,
        help=f"directory with dev.json/test.json (or its parent); default {DEFAULT_CORPUS}",
    )
    ap.add_argument(
        "--labels", type=Path, default=DEFAULT_LABELS, help="the reference labels (TSV)"
    )
    ap.add_argument(
        "--role",
        choices=("agent", "customer", "all"),
        default="agent",
        help="which labelled messages to evaluate (default: agent, the outgoing replies)",
    )
    ap.add_argument("--split", choices=("dev.json", "test.json", "all"), default="all")
    ap.add_argument(
        "--print-stats",
        action="store_true",
        help="print counts per label (labels file and resolved texts) and stop",
    )
    ap.add_argument(
        "--keep",
        type=Path,
        metavar="FILE",
        help="also write the resolved label<TAB>text file here (keep it OUT of the repo)",
    )
    args = ap.parse_args(argv)

    if not args.labels.is_file():
        print(f"labels file {args.labels} not found", file=sys.stderr)
        return 2
    rows = load_labels(args.labels)
    rows = [
        r
        for r in rows
        if (args.role == "all" or r["role"] == args.role)
        and (args.split == "all" or r["file"] == args.split)
    ]

    corpus = find_corpus(args.corpus)
    if args.print_stats:
        by_role = Counter(f"{r['role']}:{r['label']}" for r in rows)
        print_counts(
            f"labels in {args.labels.name} (role={args.role}, split={args.split}):", by_role
        )
        if corpus is None:
            print(f"(corpus not found at {args.corpus}; texts not resolved)")
            return 0
    if corpus is None:
        print(
            f"corpus not found: no dev.json/test.json in {args.corpus} "
            f"(or {args.corpus}/ibm-cdp).\n"
            "The texts are not stored in this repository; point --corpus at the IBM CDP "
            "directory (…/shared/corpus/ibm-cdp).",
            file=sys.stderr,
        )
        return 2

    texts = index_corpus(corpus, {r["file"] for r in rows})
    resolved: list[tuple[str, str]] = []
    missing = [r for r in rows if (r["file"], r["tweet_id"]) not in texts]
    for r in rows:
        t = texts.get((r["file"], r["tweet_id"]))
        if t is not None:
            resolved.append((r["label"], clean(t)))
    if missing:
        print(
            f"warning: {len(missing)} labelled references not found in the corpus, "
            f"e.g. {missing[0]['file']}:{missing[0]['tweet_id']}",
            file=sys.stderr,
        )
    counts = Counter(label for label, _ in resolved)
    if args.print_stats:
        print_counts("resolved texts:", counts)
        return 0

    fd, tmp_name = tempfile.mkstemp(prefix="helpforce-corpus-", suffix=".tsv")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write("label\ttext\n")
            for label, text in resolved:
                f.write(f"{label}\t{text}\n")
        if args.keep:
            shutil.copyfile(tmp, args.keep)
            print(f"resolved texts written to {args.keep}", file=sys.stderr)
        cmd = helpforce_cmd()
        if cmd is None:
            print("`helpforce policy eval` is not available yet; resolved examples per label:")
            print_counts(f"(role={args.role}, split={args.split}, corpus={corpus})", counts)
            return 0
        print(
            f"running: {' '.join(cmd)} policy eval <{len(resolved)} resolved texts> "
            f"{' '.join(passthrough)}".rstrip(),
            file=sys.stderr,
        )
        r = subprocess.run([*cmd, "policy", "eval", str(tmp), *passthrough], cwd=REPO_ROOT)
        return r.returncode
    finally:
        tmp.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
