"""Policy checks per second for the default packs, beside normalisation alone.

    python benchmarks/bench_policy.py [--corpus DIR] [--seconds S] [--json]

Texts: the real brand replies of the IBM CDP corpus (read from ../shared/corpus at run time,
never copied into the project), cut to 280 characters; without the corpus, team-written
replies. Worst case: adversarial 4,096-character inputs (long digit runs, '@' and dots,
repeated asks) through the whole engine, each timed alone.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

from helpforce.config import load_config
from helpforce.policies.normalize import normalize
from helpforce.policy import CheckContext, load_engine

ROOT = Path(__file__).resolve().parent.parent
FALLBACK = [
    "Sorry to hear that! Please send us a DM with your order number and we'll take a look.",
    "What's your order number? I'll check it for you right away. ^JD",
    "The 55 inch model supports 120Hz on HDMI ports 3 and 4. ^PR",
    "You can find your tracking link in the dispatch e-mail we sent you. ^ME",
]


def corpus_texts(directory: Path) -> list[str]:
    texts: list[str] = []
    for name in ("dev.json", "test.json"):
        path = directory / name
        if not path.is_file():
            continue
        for item in json.loads(path.read_text()):
            for turn in item.get("dialogContent", []):
                if "agent" in turn and turn.get("message"):
                    texts.append(turn["message"][:280])
            final = (item.get("agentURL") or {}).get("url_utterance")
            if final:
                texts.append(final[:280])
    return texts


def adversarial() -> list[str]:
    n = 4096
    return [
        ("1" * n), ("12 " * (n // 3)), ("@." * (n // 2)), ("a@" * (n // 2)),
        ("your order number " * (n // 18))[:n], ("what is your " * (n // 13))[:n],
        ("x" * (n - 10) + "@example.c"), ("o r d e r " * (n // 10))[:n],
        ("1Z" + "9" * (n - 2)), ("+44 " * (n // 4))[:n], ("https://" + "a." * (n // 2))[:n],
        ("DM " * (n // 3))[:n], ("\u200b" * n), ("é" * n), ("😀" * (n // 2)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus" /
                        "ibm-cdp")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    config = load_config(ROOT / "config", env={})
    engine = load_engine(config.policies.packs, config.policies.rules)
    texts = corpus_texts(args.corpus) or FALLBACK
    ctx = CheckContext("out", "public", "x", "agent", signature=" ^JD")

    def rate(fn: object) -> float:
        assert callable(fn)
        n = 0
        start = time.perf_counter()
        while time.perf_counter() - start < args.seconds:
            for t in texts:
                fn(t)
            n += len(texts)
        return n / (time.perf_counter() - start)

    norm_rate = rate(normalize)
    check_rate = rate(lambda t: engine.check(t, ctx))
    worst = []
    for t in adversarial():
        for c in (ctx, CheckContext("in", "public", "local", "customer", audience="staff")):
            start = time.perf_counter()
            engine.check(t, c)
            worst.append((time.perf_counter() - start) * 1000)
    result = {
        "command": " ".join(["python", *sys.argv]),
        "machine": f"{platform.machine()}, Python {platform.python_version()}",
        "texts": len(texts),
        "source": "corpus" if texts is not FALLBACK else "fallback",
        "mean_length": round(sum(map(len, texts)) / len(texts), 1),
        "normalize_per_s": round(norm_rate),
        "checks_per_s": round(check_rate),
        "packs": sorted(config.policies.packs),
        "worst_ms_at_4096": round(max(worst), 2),
    }
    if args.json:
        print(json.dumps(result))
        return
    for key, value in result.items():
        print(f"{key:>20}: {value}")


if __name__ == "__main__":
    main()
