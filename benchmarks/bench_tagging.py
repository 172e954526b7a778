"""Classifications per second (tags + language) over real customer messages; figures, not
pass/fail.

    python benchmarks/bench_tagging.py [--corpus DIR] [--seconds S] [--json]
    python benchmarks/bench_tagging.py --compare [--json]     # language detectors side by side

Texts: every customer turn of the IBM CDP corpus (read from ../shared/corpus at run time,
never copied into the project); without the corpus, the labelled messages of
tests/test_tagging.py. The tagger is built from the example config/routing.yaml, with the
desk's languages = the example roster's plus en, es, fr, de, pt, it.

``--compare`` runs each language detector that is installed in its own process (so that the
memory it adds is its own) on the same inputs and prints one row each:

- *labelled*: tests/test_tagging.py's 105 short messages (15 each in en es fr de pt it nl),
  correct / wrong / left undecided (the desk then uses the default language);
- *short*: how many of its too-short texts ("ok", "thanks!", an emoji, a URL) got a language
  at all (they should take the default);
- *corpus*: the corpus's customer messages (English) given another language;
- *UI strings*: an independent set of real short texts nobody here wrote: 300 translated
  messages per language sampled (fixed seed) from the gettext catalogues of Debian packages
  under /usr/share/locale (en from their msgids), when the machine has them;
- *µs/280*: one call on a 280-character text (mean of en and es), and the mean over the
  labelled messages;
- *RSS*: resident memory the import and the detector's construction add (VmRSS), and the
  process's peak; *disk*: the installed size of the package and its dependencies.

Candidates: ``hand`` (helpforce.tagging.LanguageDetector), ``lingua-low`` and ``lingua-high``
(lingua-language-detector, built for the seven languages), ``py3langid`` (restricted with
set_languages), ``langdetect`` (seeded; restricted by keeping the allowed languages of its
ranking). Install the libraries into the venv to compare them; they are not dependencies.
"""

from __future__ import annotations

import argparse
import ast
import gettext
import importlib.metadata
import json
import platform
import random
import resource
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _test_data() -> tuple[dict[str, list[str]], list[str]]:
    """LABELLED and SHORT of tests/test_tagging.py, read without importing it (importing it
    would load helpforce.tagging before the memory it adds is measured)."""
    tree = ast.parse((ROOT / "tests" / "test_tagging.py").read_text())
    found: dict[str, object] = {}
    for node in tree.body:
        target = node.target if isinstance(node, ast.AnnAssign) else (
            node.targets[0] if isinstance(node, ast.Assign) else None)
        if isinstance(target, ast.Name) and target.id in ("LABELLED", "SHORT") and node.value:
            found[target.id] = ast.literal_eval(node.value)
    labelled, short = found["LABELLED"], found["SHORT"]
    assert isinstance(labelled, dict) and isinstance(short, list)
    return labelled, short


LABELLED, SHORT = _test_data()

SIX = ["en", "es", "fr", "de", "pt", "it"]
SEVEN = [*SIX, "nl"]
CANDIDATES = ["hand", "lingua-low", "lingua-high", "py3langid", "langdetect"]
DISTRIBUTIONS = {
    "hand": [],
    "lingua-low": ["lingua-language-detector"],
    "lingua-high": ["lingua-language-detector"],
    "py3langid": ["py3langid", "numpy"],
    "langdetect": ["langdetect", "six"],
}
TEXT_280 = {
    "en": (
        "I ordered a new laptop three weeks ago and it still has not arrived. The tracking "
        "page says it is stuck in the depot and nobody answers the phone. Can you please tell "
        "me when it will be delivered, or refund me? Order number 12345. This is really "
        "frustrating, thanks for nothing at all honestly!! "
    )[:280],
    "es": (
        "Hola, hice un pedido hace tres semanas y todavía no ha llegado. La página de "
        "seguimiento dice que está parado en el almacén y nadie contesta el teléfono. "
        "¿Podéis decirme cuándo me lo van a entregar o devolverme el dinero? Número de pedido "
        "12345. Es muy frustrante, gracias por nada de verdad."
    )[:280],
}
LOCALE_DIRS = {"es": ["es"], "fr": ["fr"], "de": ["de"], "pt": ["pt", "pt_BR"], "it": ["it"],
               "nl": ["nl"]}


def corpus_texts(directory: Path) -> list[str]:
    """The customers' messages (the turns a desk would classify)."""
    texts: list[str] = []
    for name in ("dev.json", "test.json"):
        path = directory / name
        if path.is_file():
            for item in json.loads(path.read_text()):
                for turn in item.get("dialogContent", []):
                    if "client" in turn and turn.get("message"):
                        texts.append(turn["message"])
    return texts


def ui_strings(per_language: int = 300, seed: int = 1) -> dict[str, list[str]]:
    """Translated one-line messages of the installed Debian packages (read at run time)."""
    base = Path("/usr/share/locale")
    english: set[str] = set()
    out: dict[str, list[str]] = {}

    def usable(s: str) -> bool:
        return (25 <= len(s) <= 140 and len(s.split()) >= 4
                and not any(c in s for c in "\n%{<_="))

    for lang, dirs in LOCALE_DIRS.items():
        found: set[str] = set()
        for d in dirs:
            for mo in sorted((base / d / "LC_MESSAGES").glob("*.mo")):
                if mo.name.startswith("iso_"):
                    continue
                try:
                    with mo.open("rb") as f:
                        catalog = gettext.GNUTranslations(f)._catalog  # type: ignore[attr-defined]
                except Exception:
                    continue
                for key, value in catalog.items():
                    if isinstance(key, str) and isinstance(value, str) and key:
                        if usable(value.strip()) and value.strip() != key.strip():
                            found.add(value.strip())
                        if usable(key.strip()):
                            english.add(key.strip())
        if len(found) >= 2 * per_language:
            # the second half of a fixed sample: the first half was used while writing the
            # detector's word lists, this half was not
            out[lang] = random.Random(seed).sample(sorted(found), 2 * per_language)[
                per_language:]
    if out and len(english) >= 2 * per_language:
        out["en"] = random.Random(seed).sample(sorted(english), 2 * per_language)[per_language:]
    return out


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def build(name: str, languages: list[str]) -> Callable[[str], str | None]:
    """A detect(text) -> language | None for one candidate (imports it)."""
    if name == "hand":
        from helpforce.tagging import LanguageDetector

        return LanguageDetector(languages).detect
    if name.startswith("lingua"):
        from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

        chosen = [Language.from_iso_code_639_1(getattr(IsoCode639_1, c.upper()))
                  for c in languages]
        builder = LanguageDetectorBuilder.from_languages(*chosen)
        if name == "lingua-low":
            builder = builder.with_low_accuracy_mode()
        detector = builder.with_preloaded_language_models().build()

        def lingua(text: str) -> str | None:
            found = detector.detect_language_of(text)
            return found.iso_code_639_1.name.lower() if found is not None else None

        return lingua
    if name == "py3langid":
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=False)
        ident.set_languages(languages)
        return lambda text: str(ident.classify(text)[0])
    if name == "langdetect":
        from langdetect import DetectorFactory, detect_langs
        from langdetect.lang_detect_exception import LangDetectException

        DetectorFactory.seed = 0
        allowed = set(languages)

        def langdetect(text: str) -> str | None:
            try:
                ranked = detect_langs(text)
            except LangDetectException:
                return None
            for guess in ranked:
                if guess.lang in allowed:
                    return str(guess.lang)
            return None

        return langdetect
    raise SystemExit(f"unknown candidate {name}")


def disk_mb(distributions: list[str]) -> float | None:
    total = 0
    for name in distributions:
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            return None
        for f in dist.files or ():
            path = Path(str(dist.locate_file(f)))
            if path.is_file():
                total += path.stat().st_size
    return total / 1e6


def score(detect: Callable[[str], str | None], sets: dict[str, list[str]]) -> dict[str, float]:
    right = wrong = none = 0
    for lang, texts in sets.items():
        for text in texts:
            got = detect(text)
            if got == lang:
                right += 1
            elif got is None:
                none += 1
            else:
                wrong += 1
    n = right + wrong + none
    return {"n": n, "correct": right / n, "wrong": wrong / n, "undecided": none / n}


def per_call_us(fn: Callable[[str], object], texts: list[str], seconds: float = 0.5) -> float:
    n = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for t in texts:
            fn(t)
        n += len(texts)
    return (time.perf_counter() - start) / n * 1e6


def candidate(name: str, corpus: Path) -> dict[str, object]:
    """Run in a child process: everything about one detector."""
    # what the daemon has loaded anyway (the config, the policies' regex module): not counted
    import regex  # noqa: F401

    import helpforce.config.routing  # noqa: F401

    before = rss_mb()
    start = time.perf_counter()
    try:
        detect = build(name, SEVEN)
    except ImportError as exc:
        return {"candidate": name, "missing": str(exc)}
    detect("warm up: the first call may load models")
    load_s = time.perf_counter() - start
    added = rss_mb() - before
    row: dict[str, object] = {"candidate": name, "load_s": round(load_s, 2),
                              "rss_added_mb": round(added, 1)}
    row["labelled"] = score(detect, LABELLED)
    row["short_detected"] = sum(detect(t) is not None for t in SHORT)
    row["short_n"] = len(SHORT)
    texts = corpus_texts(corpus)
    if texts:
        found = Counter(detect(t) for t in texts)
        row["corpus_n"] = len(texts)
        row["corpus_other"] = sum(v for k, v in found.items() if k not in ("en", None)) / len(
            texts)
        row["corpus_undecided"] = found[None] / len(texts)
    ui = ui_strings()
    if ui:
        row["ui"] = score(detect, ui)
    row["us_280"] = round(statistics.mean(per_call_us(detect, [t]) for t in TEXT_280.values()),
                          1)
    row["us_labelled"] = round(per_call_us(detect, [t for ts in LABELLED.values() for t in ts]),
                               1)
    row["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    row["disk_mb"] = 0.0 if name == "hand" else disk_mb(DISTRIBUTIONS[name])
    return row


def compare(args: argparse.Namespace) -> None:
    rows = []
    for name in CANDIDATES:
        out = subprocess.run(
            [sys.executable, __file__, "--candidate", name, "--corpus", str(args.corpus)],
            capture_output=True, text=True, check=True,
        )
        rows.append(json.loads(out.stdout))
    if args.json:
        print(json.dumps({"machine": machine(), "rows": rows}))
        return
    print(f"machine: {machine()}; desk languages: {' '.join(SEVEN)}")
    print("accuracy columns: correct/wrong (the rest undecided -> default language)\n")
    head = (f"{'candidate':<12} {'labelled':>11} {'short':>6} {'corpus':>13} {'UI strings':>11} "
            f"{'µs/280':>7} {'µs/msg':>7} {'RSS+MB':>7} {'peak':>6} {'disk MB':>8} {'load s':>6}")
    print(head)
    print("-" * len(head))
    for r in rows:
        if "missing" in r:
            print(f"{r['candidate']:<12} not installed ({r['missing']})")
            continue
        lab = r["labelled"]
        ui = r.get("ui")
        corpus = (f"{r['corpus_other']:.1%}/{r['corpus_undecided']:.1%}"
                  if "corpus_n" in r else "-")
        print(
            f"{r['candidate']:<12} {lab['correct']:>5.1%}/{lab['wrong']:<5.1%} "
            f"{r['short_detected']:>3}/{r['short_n']:<2} {corpus:>13} "
            + (f"{ui['correct']:>5.1%}/{ui['wrong']:<5.1%}" if ui else f"{'-':>11}")
            + f" {r['us_280']:>7} {r['us_labelled']:>7} {r['rss_added_mb']:>7} "
            f"{r['peak_rss_mb']:>6} "
            + (f"{r['disk_mb']:>8.1f}" if r["disk_mb"] is not None else f"{'?':>8}")
            + f" {r['load_s']:>6}"
        )
    print("\ncorpus: customer messages (English) given another language / left undecided")
    print("short: too-short texts that got a language (should be 0 or close)")


def machine() -> str:
    import os

    return (f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")


def throughput(args: argparse.Namespace) -> None:
    from helpforce.config import load_config

    config = load_config(ROOT / "config", env={})
    languages = sorted({*SIX, *(lang for s in config.roster.staff for lang in s.languages)})
    before = rss_mb()
    from helpforce.tagging import MAX_CHARS, Tagger

    tagger = Tagger(config.routing, languages)
    after = rss_mb()
    texts = corpus_texts(args.corpus)
    source = "corpus"
    if not texts:
        texts = [t for ts in LABELLED.values() for t in ts]
        source = "tests/test_tagging.py LABELLED"

    def one_pass() -> list[int]:
        spent = []
        for t in texts:
            s = time.perf_counter_ns()
            tagger.classify("x", "mentions", t)
            spent.append(time.perf_counter_ns() - s)
        return spent

    cold = one_pass()  # the first pass fills the detector's small cache of unknown words
    spent: list[int] = []
    n = 0
    start = time.perf_counter()
    while time.perf_counter() - start < args.seconds:
        spent.extend(one_pass())
        n += len(texts)
    wall = time.perf_counter() - start
    spent.sort()
    results = [tagger.classify("x", "mentions", t) for t in texts]
    sources = Counter(r.language_source for r in results)
    langs = Counter(r.language for r in results)
    tags = Counter(tag for r in results for tag in r.tags)

    # per-part costs
    tag_us = per_call_us(tagger.tags, texts, 0.5)
    detect_us = per_call_us(tagger.detector.detect, texts, 0.5)

    worst_inputs = [
        "a" * MAX_CHARS, "é" * MAX_CHARS, ("order " * 700)[:MAX_CHARS], "的" * MAX_CHARS,
        ("x@y.z " * 700)[:MAX_CHARS], ("l'" * 2048), "\U0001f600" * MAX_CHARS,
        (" ".join(LABELLED["fr"]) * 20)[:MAX_CHARS],
    ]
    worst = max(
        min(per_call_us(lambda t: tagger.classify("x", "dm", t), [w], 0.05) for _ in range(3))
        for w in worst_inputs
    )
    result = {
        "command": " ".join(["python", *sys.argv]),
        "machine": machine(),
        "texts": len(texts),
        "source": source,
        "mean_length": round(sum(map(len, texts)) / len(texts), 1),
        "desk_languages": " ".join(languages),
        "tag_rules": len(config.routing.tags),
        "classifications_per_s": round(n / wall),
        "mean_us": round(statistics.mean(spent) / 1000, 1),
        "p50_us": round(spent[len(spent) // 2] / 1000, 1),
        "p99_us": round(spent[int(len(spent) * 0.99)] / 1000, 1),
        "max_us": round(spent[-1] / 1000, 1),
        "first_pass_mean_us": round(statistics.mean(cold) / 1000, 1),
        "tags_only_us": round(tag_us, 1),
        "detection_only_us": round(detect_us, 1),
        "worst_4096_char_us": round(worst, 1),
        "language_source": dict(sources.most_common()),
        "languages": dict(langs.most_common()),
        "tags": dict(tags.most_common()),
        "rss_tagging_import_and_tagger_mb": round(after - before, 1),
    }
    if args.json:
        print(json.dumps(result))
        return
    for key, value in result.items():
        print(f"{key:>34}: {value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path,
                        default=ROOT.parent / "shared" / "corpus" / "ibm-cdp")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--compare", action="store_true",
                        help="compare language detectors (each in its own process)")
    parser.add_argument("--candidate", choices=CANDIDATES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.candidate:
        print(json.dumps(candidate(args.candidate, args.corpus)))
    elif args.compare:
        compare(args)
    else:
        throughput(args)


if __name__ == "__main__":
    main()
