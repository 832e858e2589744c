"""The evaluation report as a text table: the ensemble, each member and the ablations per retrieval
mode, per type, and throughput."""

from __future__ import annotations


def _f(x) -> str:
    return f"{100 * x:5.1f}" if isinstance(x, (int, float)) else "    -"


def format_report(report: dict) -> str:
    lines = [
        f"data {report['data']}  pool {report['pool']}  sample {report['sample']['sentences']} of "
        f"{report['sample']['of']} sentences (seed {report['sample']['seed']}), {report['sample']['entities']} gold entities",
        f"models {', '.join(m['name'] for m in report.get('models', []))}  commit {report['commit']}",
        "",
    ]
    lines.append(f"{'system':44} {'P':>5} {'R':>5} {'F1':>5}")
    for mode, run in report["runs"].items():
        label = "zero-shot" if mode == "none" else f"{mode} retrieval"
        s = run["ensemble"]
        lines.append(f"{('ensemble, ' + label):44} {_f(s['precision'])} {_f(s['recall'])} {_f(s['f1'])}")
        for m, s in run["members"].items():
            lines.append(f"{('  ' + m + ' alone'):44} {_f(s['precision'])} {_f(s['recall'])} {_f(s['f1'])}")
        for name, s in run.get("ablations", {}).items():
            lines.append(f"{('  ' + name):44} {_f(s['precision'])} {_f(s['recall'])} {_f(s['f1'])}")
    main = report["runs"].get(report.get("main") or "", {})
    if main:
        lines += ["", f"per type (ensemble, {report['main']} retrieval):"]
        for label, s in main["ensemble"]["per_type"].items():
            lines.append(f"  {label:42} {_f(s['precision'])} {_f(s['recall'])} {_f(s['f1'])}  n={s['support']}")
    lines += ["", "throughput:"]
    for mode, run in report["runs"].items():
        t = run["throughput"]
        if not t:
            continue
        lines.append(
            f"  {mode:10} {t['seconds_per_sentence']:7.2f} s/sentence ({t['sentences_per_second']} sentences/s), "
            f"peak RSS {t['peak_rss_mb']:.0f} MB"
        )
        for stage, models in t["tokens_per_sentence"].items():
            for model, st in models.items():
                lines.append(
                    f"    {stage:18} {model:22} prompt {st['evaluated']:8.1f}  reused {st['reused']:8.1f}  "
                    f"generated {st['generated']:6.1f}  calls {st['calls']:5.1f}  {st['seconds']:6.2f} s"
                )
    return "\n".join(lines)
