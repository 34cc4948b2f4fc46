from builders import store_synthetic
from tickdeck.core.pipeline import install


def test_pipeline_builds_bars_then_validates_every_written_day(ctx):
    install(ctx)
    install(ctx)  # idempotent
    names = [getattr(h, "__name__", "") for h in ctx.extras["after_write"]]
    assert names.count("validation_after_write") == 1 and names[-1] == "validation_after_write"
    store_synthetic(ctx, "AAPL", "2024-07-02", "2024-07-02")
    series = ctx.catalog.bar_series("AAPL", "2024-07-02")
    assert len({s.family for s in series}) == 13
    (row,) = ctx.catalog.tick_days("AAPL")
    assert row.quality_score is not None and row.quality_score > 50
    from tickdeck.core.validation import validate_day

    report = validate_day(ctx, "AAPL", "2024-07-02")
    storage = [r for r in report.results if r.validator == "storage"][0]
    assert not [i for i in storage.issues if i.severity in ("HIGH", "CRITICAL")]
