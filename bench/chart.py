"""The charts the README shows, drawn from the run's results with matplotlib (a dev
dependency: PNGs straight from the numbers, no browser needed; the Agg backend runs
headless).

- users-page.png: (a)/(c) and (a)/(d) of every Users page view at 100,000 users (or
  the largest size up to it), one panel a database, with the target lines (2 and 4).
- scaling.png: median ms against users (log scale) of (a) the first page, (b) Django
  admin's first page, (c) and (d) the floors, one panel a database.
"""

from __future__ import annotations

from pathlib import Path

from bench.report import TARGET_VS_BYTES, TARGET_VS_FLOOR, USERS_PAGE, VENDOR_TITLE, ratio


def _at(run, n: int = 100_000):
    sized = [r for r in run.results if r.n <= n] or run.results
    return max(sized, key=lambda r: r.n) if sized else None


def draw(runs, directory: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [r for r in runs if r.results]
    if not runs:
        return []
    directory.mkdir(parents=True, exist_ok=True)
    written = []

    # Ratios per view.
    fig, axes = plt.subplots(1, len(runs), figsize=(7 * len(runs), 9), squeeze=False)
    for ax, run in zip(axes[0], runs, strict=True):
        r = _at(run)
        keys = [k for k in r.timings if k.startswith(USERS_PAGE) and r.timings[k].samples_ms]
        labels = [r.timings[k].page.label.replace("Users page, ", "") for k in keys]
        vs_c = [ratio(r, k, "c_floor") or 0 for k in keys]
        vs_d = [ratio(r, k, "d_floor") or 0 for k in keys]
        y = range(len(keys))
        ax.barh([i + 0.2 for i in y], vs_c, height=0.4, label="(a)/(c)", color="#0d6efd")
        ax.barh([i - 0.2 for i in y], vs_d, height=0.4, label="(a)/(d)", color="#adb5bd")
        ax.axvline(TARGET_VS_FLOOR, color="#dc3545", ls="--", label="target (a)/(c) ≤ 2")
        ax.axvline(
            TARGET_VS_BYTES, color="#6f42c1", ls=":", label="target (a)/(d) ≤ 4 (first page)"
        )
        ax.set_yticks(list(y), labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.set_xlabel("ratio to the floor (log scale)")
        ax.set_title(f"{VENDOR_TITLE.get(run.vendor, run.vendor)}, {r.n:,} users")
        ax.legend(fontsize=8, loc="lower right")
    fig.suptitle("Users page: every view against the floors (c) and (d)")
    fig.tight_layout()
    path = directory / "users-page.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    written.append(path)

    # Scaling.
    fig, axes = plt.subplots(1, len(runs), figsize=(6 * len(runs), 4.5), squeeze=False)
    for ax, run in zip(axes[0], runs, strict=True):
        sizes = [r.n for r in run.results]
        for key, label, style in (
            ("a_first", "(a) Users page, first page", "o-"),
            ("b_first", "(b) Django admin, first page", "s--"),
            ("c_floor", "(c) floor: template, no queries", "^:"),
            ("d_floor", "(d) floor: bytes, no template", "v:"),
        ):
            ms = [
                r.timings[key].median_ms if key in r.timings else float("nan") for r in run.results
            ]
            ax.plot(sizes, ms, style, label=label)
        ax.set_xscale("log")
        ax.set_xlabel("users in the tenant (log scale)")
        ax.set_ylabel("median ms")
        ax.set_ylim(bottom=0)
        ax.set_title(VENDOR_TITLE.get(run.vendor, run.vendor))
        ax.legend(fontsize=8)
    fig.tight_layout()
    path = directory / "scaling.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    written.append(path)
    return written
