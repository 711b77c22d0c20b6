"""`nas bench` end to end on a tiny table: the printed comparison, the HTML report, bad input."""

from __future__ import annotations

from helpers.tables import every_row, table_spec, write_table


def test_bench_prints_the_comparison_and_writes_the_report(nas, tmp_path):
    spec = table_spec(tmp_path, write_table(tmp_path, every_row({(16, 1): 5.0})))
    report = tmp_path / "bench.html"
    code, out, err = nas("bench", spec, "--strategies", "random,RegularizedEvolution",
                         "--seeds", 3, "--trials", 4, "--workers", "1,2", "-o", report)
    assert code == 0, err
    lines = out.splitlines()
    assert "1 worker: 4 trials x 3 seeds; acc optimum 1.01, top 1% >= 1.01 (virtual time)" in lines
    assert "2 workers: 4 trials x 3 seeds; acc optimum 1.01, top 1% >= 1.01 (virtual time)" in lines
    header = next(line for line in lines if line.startswith("strategy"))
    assert header.split() == ["strategy", "regret@1", "regret@2", "regret@4", "top1%",
                              "p_vs_random", "virtual_s/run", "wall_s/run"]
    rows = [line.split() for line in lines if line.startswith(("random ", "evolution "))]
    assert [r[0] for r in rows] == ["random", "evolution"] * 2
    assert all(r[5] == "-" for r in rows if r[0] == "random")
    assert all(0 <= float(r[5]) <= 1 for r in rows if r[0] == "evolution")
    assert out.strip().endswith(f"report: {report}")
    assert "random on 2 workers: 3 runs in" in err
    page = report.read_text()
    assert "mean regret against trials" in page and "mean regret against time" in page
    assert "virtual seconds" in page and "https://" not in page.split("<script>")[0]


def test_bench_refuses_bad_input_in_one_line(nas, tmp_path, write_spec):
    spec = table_spec(tmp_path, write_table(tmp_path, every_row()))
    code, _, err = nas("bench", spec, "--strategies", "random,evo")
    assert code == 2 and err.strip().startswith("error: --strategies: unknown strategy 'evo' "
                                                "(choose from random, grid, evolution, ")
    assert err.strip().endswith("; did you mean 'evolution'?)")
    code, _, err = nas("bench", spec, "--strategies", "random,spos")
    assert code == 2 and err.strip().startswith("error: --strategies: spos is one-shot search")
    code, _, err = nas("bench", spec, "--workers", "8,0")
    assert code == 2 and err.strip() == (
        "error: --workers: must be positive whole numbers separated by commas, got '8,0'")
    code, _, err = nas("bench", write_spec(tmp_path, name="function"))
    assert code == 2 and err.strip() == ("error: nas bench replays a table: the spec needs "
                                         "evaluator.type: table (with evaluator.path: FILE)")
