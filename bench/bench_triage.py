"""Triage on the held-out set (tests/triage_holdout.json): how well the rules generalise.

    .venv/bin/python bench/bench_triage.py [--config-dir DIR] [--holdout FILE] [--json] [--misses]

Runs the shipped routing rules (or DIR's) on every report of the held-out set,
with its account facts and alert labels, and prints, for English and for the
other languages separately: accuracy, per-class precision and recall, the
confusion matrix (rows: expected, columns: triaged), immediate-tier recall
(reports whose class is in the immediate tier that triage put in that tier),
how many negated or hypothetical mentions were classed into the immediate tier
although their label is not, and how many results the safety bias produced.
Then the issue-19 targets, English only, each with met / NOT met. `--misses`
lists every wrong English report (read them to find the *kind* of wording a
rule misses, then write a different sentence of that kind into the tuning
table: never a rule for one of these sentences). The exit status is 0 whether
or not the targets are met: it is a measurement, and
tests/test_triage_holdout_targets.py is the guard.

Importable (the targets test uses `evaluate` and `TARGETS`); standard library
and the project only.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HOLDOUT = REPO / "tests" / "triage_holdout.json"
HEDGED = ("negated", "hypothetical")  # kinds whose mention must not page the immediate tier by itself
TARGETS = {"immediate_recall": 0.98, "accuracy": 0.90, "hedged_paged_immediate": 0}


@dataclass(frozen=True)
class Outcome:
    id: str
    text: str
    lang: str
    kind: str
    expected: str
    got: str
    needs_review: bool
    bias: bool  # classed by the safety bias rather than a rule
    rule: str | None


@dataclass
class Scores:
    """The numbers of one group of outcomes (English, or the other languages)."""

    outcomes: list[Outcome]
    tiers: dict[str, str]  # class -> tier
    classes: list[str]  # in the policy's order
    immediate: str = "immediate"
    confusion: Counter = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.confusion = Counter((o.expected, o.got) for o in self.outcomes)

    @property
    def total(self) -> int:
        return len(self.outcomes)

    @property
    def accuracy(self) -> float:
        return _ratio(sum(o.got == o.expected for o in self.outcomes), self.total)

    def precision(self, klass: str) -> float | None:
        called = sum(o.got == klass for o in self.outcomes)
        return _ratio(self.confusion[klass, klass], called) if called else None

    def recall(self, klass: str) -> float | None:
        actual = sum(o.expected == klass for o in self.outcomes)
        return _ratio(self.confusion[klass, klass], actual) if actual else None

    def immediate_outcomes(self) -> list[Outcome]:
        return [o for o in self.outcomes if self.tiers[o.expected] == self.immediate]

    @property
    def immediate_recall(self) -> float:
        """Immediate-tier reports that were classed into the immediate tier (any of its classes)."""
        wanted = self.immediate_outcomes()
        return _ratio(sum(self.tiers[o.got] == self.immediate for o in wanted), len(wanted))

    @property
    def immediate_exact_recall(self) -> float:
        """Immediate-tier reports classed into exactly their class."""
        wanted = self.immediate_outcomes()
        return _ratio(sum(o.got == o.expected for o in wanted), len(wanted))

    def hedged_paged_immediate(self) -> list[Outcome]:
        """Negated or hypothetical mentions, labelled outside the immediate tier, classed into it."""
        return [o for o in self.outcomes if o.kind in HEDGED and self.tiers[o.expected] != self.immediate
                and self.tiers[o.got] == self.immediate]

    def targets(self) -> list[tuple[str, str, bool]]:
        """(name, measured, met) for each issue-19 target."""
        hedged = len(self.hedged_paged_immediate())
        return [
            ("immediate-tier recall >= 98%", _pct(self.immediate_recall),
             self.immediate_recall >= TARGETS["immediate_recall"]),
            ("overall accuracy >= 90%", _pct(self.accuracy), self.accuracy >= TARGETS["accuracy"]),
            ("negated/hypothetical classed immediate = 0", str(hedged), hedged <= TARGETS["hedged_paged_immediate"]),
        ]


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def load_engine(config_dir: Path):
    """The rules and policy of a config directory, loaded and validated as `notify` does."""
    sys.path.insert(0, str(REPO))
    from dispatcher.config.directory import load_directory
    from dispatcher.config.policy import load_policy
    from dispatcher.config.routing import load_routing

    directory = load_directory(config_dir / "contacts.toml")
    policy = load_policy(config_dir / "policy.toml", directory)
    return load_routing(config_dir / "routing.toml", policy), policy


def evaluate(entries: list[dict], rules, policy) -> list[Outcome]:
    """Triage every held-out entry with its account facts and labels."""
    from dispatcher.domain.triage import Report, triage

    outcomes = []
    for e in entries:
        result = triage(rules, policy, Report(text=e["text"], labels=e.get("labels", {}), **e.get("fields", {})))
        outcomes.append(Outcome(e["id"], e["text"], e["lang"], e["kind"], e["expected"], result.klass,
                                result.needs_review, getattr(result, "bias", None) is not None,
                                result.winner.rule if result.winner else None))
    return outcomes


def scores_by_language(outcomes: list[Outcome], policy) -> dict[str, Scores]:
    tiers = {name: k.tier for name, k in policy.classes.items()}
    classes = list(policy.classes)
    return {"English": Scores([o for o in outcomes if o.lang == "en"], tiers, classes),
            "other languages": Scores([o for o in outcomes if o.lang != "en"], tiers, classes)}


def report_text(name: str, s: Scores) -> str:
    langs = Counter(o.lang for o in s.outcomes)
    lines = [f"== {name}: {s.total} reports" + ("" if name == "English" else f" ({_langs(langs)})"),
             (f"accuracy:                 {_pct(s.accuracy)} ({sum(o.got == o.expected for o in s.outcomes)}"
             f"/{s.total})"),
             (f"immediate-tier recall:    {_pct(s.immediate_recall)} (tier), {_pct(s.immediate_exact_recall)} "
             f"(exact class), of {len(s.immediate_outcomes())}"),
             (f"negated/hypothetical classed immediate: {len(s.hedged_paged_immediate())} "
             f"{[o.id for o in s.hedged_paged_immediate()]}"),
             (f"safety bias applied:      {sum(o.bias for o in s.outcomes)} "
             f"(right class {sum(o.bias and o.got == o.expected for o in s.outcomes)}); "
             f"needs_review: {sum(o.needs_review for o in s.outcomes)}"),
             "", f"{'class':<13} {'precision':>9} {'recall':>7} {'n':>4}"]
    for k in s.classes:
        lines.append(f"{k:<13} {_pct(s.precision(k)):>9} {_pct(s.recall(k)):>7} "
                     f"{sum(o.expected == k for o in s.outcomes):>4}")
    short = [k[:5] for k in s.classes]
    lines += ["", "confusion (rows expected, columns triaged)",
              f"{'':<13}" + "".join(f"{c:>6}" for c in short)]
    for k in s.classes:
        lines.append(f"{k:<13}" + "".join(f"{s.confusion[k, c] or '.':>6}" for c in s.classes))
    return "\n".join(lines)


def _langs(langs: Counter) -> str:
    return ", ".join(f"{lang} {n}" for lang, n in sorted(langs.items()))


def misses_text(s: Scores) -> str:
    wrong = [o for o in s.outcomes if o.got != o.expected]
    return "\n".join([f"== English misses: {len(wrong)}"] + [
        f"{o.id} {o.kind:<12} expected {o.expected:<12} got {o.got:<12} ({o.rule or 'default'}"
        f"{', bias' if o.bias else ''}) {o.text[:110]}" for o in wrong])


def as_json(groups: dict[str, Scores]) -> dict:
    doc = {}
    for name, s in groups.items():
        doc[name] = {
            "reports": s.total, "accuracy": s.accuracy, "immediate_recall": s.immediate_recall,
            "immediate_exact_recall": s.immediate_exact_recall,
            "hedged_paged_immediate": [o.id for o in s.hedged_paged_immediate()],
            "bias": sum(o.bias for o in s.outcomes),
            "classes": {k: {"precision": s.precision(k), "recall": s.recall(k)} for k in s.classes},
            "confusion": {k: {c: s.confusion[k, c] for c in s.classes} for k in s.classes},
            "targets": [{"target": t, "measured": m, "met": met} for t, m, met in s.targets()]
            if name == "English" else None,
        }
    return doc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config-dir", type=Path, default=REPO, help="where policy/contacts/routing.toml are")
    parser.add_argument("--holdout", type=Path, default=HOLDOUT)
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    parser.add_argument("--misses", action="store_true", help="list the wrong English reports")
    args = parser.parse_args()
    rules, policy = load_engine(args.config_dir)
    entries = json.loads(args.holdout.read_text(encoding="utf-8"))
    groups = scores_by_language(evaluate(entries, rules, policy), policy)
    if args.json:
        print(json.dumps(as_json(groups), indent=1))
        return
    print("\n\n".join(report_text(name, s) for name, s in groups.items()))
    print("\n== targets (English)")
    for target, measured, met in groups["English"].targets():
        print(f"{target:<44} {measured:>7}  {'met' if met else 'NOT met'}")
    print("the tuning table (tests/test_triage_table.py) is checked by pytest, not here")
    if args.misses:
        print("\n" + misses_text(groups["English"]))


if __name__ == "__main__":
    main()
