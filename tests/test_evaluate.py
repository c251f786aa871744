"""notebot eval: metric functions on hand-made rankings, and the command end to end on a tiny corpus."""

import json
import math

import pytest

from notebot.apps.cli import main
from notebot.errors import NotebotError
from notebot.evaluation.evaluate import hit_at, is_relevant, load_qa, mrr_at, ndcg_at, normalize


def test_normalisation_ignores_width_whitespace_markup_and_case():
    assert normalize("Object最大*5TB* ，ＡＢ `x`") == "object最大5tb,abx"
    assert is_relevant("- Object最大*5TB*，超了", ["object 最大 5TB"])


def test_hit_and_mrr_on_a_known_ranking():
    assert (hit_at(2, 1), hit_at(2, 3), hit_at(None, 10)) == (0.0, 1.0, 0.0)
    assert (mrr_at(2, 10), mrr_at(11, 10), mrr_at(None, 10)) == (0.5, 0.0, 0.0)


def test_ndcg_on_known_rankings():
    assert ndcg_at([False, True, False], 10, 1) == pytest.approx(1 / math.log2(3))
    assert ndcg_at([True, True], 10, 2) == pytest.approx(1.0)
    # two relevant chunks in the index, one found at rank 1: DCG 1 over ideal 1 + 1/log2(3)
    assert ndcg_at([True, False], 10, 2) == pytest.approx(1 / (1 + 1 / math.log2(3)))
    assert ndcg_at([False] * 10, 10, 1) == 0.0


NOTES = {
    "aws.md": "# Database\n## DynamoDB\n- item 最大 400KB\n- 分区键决定数据分布\n## S3\n- Object最大*5TB*，超了要用 multi-part upload\n",
    "gcp.md": "# BigQuery\n- 列式数据仓库，按扫描量计费\n",
}
GOOD = [
    {"id": "q1", "lang": "zh", "question": "DynamoDB 的 item 最大多大？", "file": "aws.md", "evidence": ["item 最大 400KB"],
     "keywords": ["400KB"], "answer": "400KB", "kind": "number"},
    {"id": "q2", "lang": "en", "question": "How does BigQuery charge?", "file": "gcp.md", "evidence": ["按扫描量计费"],
     "keywords": ["扫描量"], "answer": "by bytes scanned", "kind": "fact"},
    {"id": "q3", "lang": "en", "question": "What does Azure Data Factory cost per hour?", "file": "", "evidence": [],
     "keywords": [], "answer": "", "kind": "unanswerable"},
]


@pytest.fixture
def indexed(write_notes, tmp_path, monkeypatch):
    monkeypatch.setenv("NOTEBOT_EMBEDDER", "hash")
    index_dir = tmp_path / "index"
    assert main(["index", str(write_notes(NOTES)), "--index-dir", str(index_dir)]) == 0
    return index_dir


def write_qa(tmp_path, rows, extra_lines=()):
    path = tmp_path / "qa.jsonl"
    path.write_text("\n".join([json.dumps(r, ensure_ascii=False) for r in rows] + list(extra_lines)) + "\n", encoding="utf-8")
    return path


def test_eval_json_has_the_metric_keys_by_lang_and_kind(indexed, tmp_path, capsys):
    qa = write_qa(tmp_path, GOOD)
    assert main(["eval", str(qa), "--index-dir", str(indexed), "--answers", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    overall = result["modes"]["hybrid"]["all"]
    assert {"hit@1", "hit@3", "hit@5", "hit@10", "mrr@10", "ndcg@10", "keyword_accuracy", "refusal_rate"} <= set(overall)
    assert overall["hit@5"] == 1.0 and overall["keyword_accuracy"] == 1.0 and overall["refusal_rate"] == 1.0
    assert set(result["modes"]["hybrid"]["by_lang"]) == {"zh", "en"}
    assert "number" in result["modes"]["hybrid"]["by_kind"]


def test_mode_all_puts_the_three_modes_side_by_side(indexed, tmp_path, capsys):
    assert main(["eval", str(write_qa(tmp_path, GOOD)), "--index-dir", str(indexed), "--mode", "all", "--json"]) == 0
    assert set(json.loads(capsys.readouterr().out)["modes"]) == {"hybrid", "vector", "lexical"}


def test_a_malformed_line_is_named_by_number(tmp_path):
    qa = write_qa(tmp_path, GOOD[:1], ["{not json"])
    with pytest.raises(NotebotError, match=r"qa.jsonl:2: not valid JSON"):
        load_qa(qa)
    qa = write_qa(tmp_path, [{**GOOD[0], "lang": "fr"}])
    with pytest.raises(NotebotError, match=r"qa.jsonl:1: unknown lang 'fr'"):
        load_qa(qa)
    qa = write_qa(tmp_path, [{k: v for k, v in GOOD[0].items() if k != "question"}])
    with pytest.raises(NotebotError, match=r"qa.jsonl:1: missing field 'question'"):
        load_qa(qa)


def test_broken_line_fails_the_command_with_one_line(indexed, tmp_path, capsys):
    qa = write_qa(tmp_path, GOOD, ["[1, 2]"])
    assert main(["eval", str(qa), "--index-dir", str(indexed)]) == 1
    assert "qa.jsonl:4: expected a JSON object" in capsys.readouterr().err


def test_evidence_found_nowhere_is_reported_as_broken_not_counted_as_a_miss(indexed, tmp_path, capsys):
    broken = {**GOOD[0], "id": "q9", "evidence": ["this sentence is in no note"]}
    assert main(["eval", str(write_qa(tmp_path, [*GOOD, broken])), "--index-dir", str(indexed), "--json"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert [b["id"] for b in result["broken"]] == ["q9"]
    assert "question q9 is broken" in captured.err
    assert result["modes"]["hybrid"]["all"]["answerable"] == 2 and result["modes"]["hybrid"]["all"]["hit@5"] == 1.0


def test_empty_or_missing_qa_file_is_an_error(indexed, tmp_path, capsys):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    assert main(["eval", str(empty), "--index-dir", str(indexed)]) == 1
    assert main(["eval", str(tmp_path / "none.jsonl"), "--index-dir", str(indexed)]) == 1
    err = capsys.readouterr().err
    assert "holds no questions" in err and "does not exist" in err


def test_fail_under_gates_on_a_metric(indexed, tmp_path, capsys):
    qa = str(write_qa(tmp_path, GOOD))
    assert main(["eval", qa, "--index-dir", str(indexed), "--fail-under", "hit@5=0.9"]) == 0
    assert main(["eval", qa, "--index-dir", str(indexed), "--fail-under", "hit@1=1.01"]) == 1
    assert "hit@1 = 1.0 in mode hybrid is below --fail-under 1.01" in capsys.readouterr().err
    assert main(["eval", qa, "--index-dir", str(indexed), "--fail-under", "recall=0.5"]) == 1
    assert "unknown metric 'recall'" in capsys.readouterr().err


def test_report_has_tables_failures_and_a_chart(indexed, tmp_path):
    miss = {**GOOD[1], "id": "q4", "question": "分区键", "evidence": ["按扫描量计费"]}
    report = tmp_path / "out" / "report.md"
    assert main(["eval", str(write_qa(tmp_path, [*GOOD, miss])), "--index-dir", str(indexed), "--mode", "all",
                 "--report", str(report)]) == 0
    text = report.read_text(encoding="utf-8")
    assert "| group | metric | hybrid | vector | lexical |" in text
    assert "![Hit@k by mode and language](report.png)" in text
    assert "ranked first instead" in text and "分区键" in text
    assert '"embedder"' in text
    png = (tmp_path / "out" / "report.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 5000


@pytest.mark.parametrize("line, problem", [
    (json.dumps({**GOOD[0], "file": ["aws.md"]}), "qa.jsonl:4: field 'file' should be a string"),
    ("[" * 100_000 + "]" * 100_000, "qa.jsonl:4: nested too deeply"),
    ('{"id": ' * 100_000 + "1" + "}" * 100_000, "qa.jsonl:4: nested too deeply"),
], ids=["list-file", "deep-list", "deep-object"])
def test_hostile_lines_are_one_line_errors_naming_the_line(indexed, tmp_path, capsys, line, problem):
    assert main(["eval", str(write_qa(tmp_path, GOOD, [line])), "--index-dir", str(indexed)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and problem in err[0]


def test_history_must_be_a_list_of_non_empty_questions(tmp_path):
    for bad in ("DynamoDB 是什么？", [""], [1, 2], {"q": 1}):
        qa = write_qa(tmp_path, [{**GOOD[0], "history": bad}])
        with pytest.raises(NotebotError, match=r"qa.jsonl:1: field 'history' should be a list"):
            load_qa(qa)
    assert load_qa(write_qa(tmp_path, [{**GOOD[0], "history": ["S3 是什么？"]}]))[0].history == ("S3 是什么？",)


def test_a_line_with_history_is_asked_as_the_next_turn(indexed, tmp_path, capsys):
    follow_up = {**GOOD[0], "id": "f1", "history": ["DynamoDB 的 item 最大多大？"], "question": "那它的分区键决定什么？",
                 "evidence": ["分区键决定数据分布"], "keywords": ["数据分布"]}
    assert main(["eval", str(write_qa(tmp_path, [follow_up])), "--index-dir", str(indexed), "--answers", "--json"]) == 0
    overall = json.loads(capsys.readouterr().out)["modes"]["hybrid"]["all"]
    assert overall["hit@5"] == 1.0 and overall["keyword_accuracy"] == 1.0


def test_answer_report_lists_failed_answers_and_rates_with_counts(indexed, tmp_path, capsys):
    wrong_keyword = {**GOOD[0], "id": "q5", "keywords": ["999KB"]}
    report = tmp_path / "out" / "report.md"
    assert main(["eval", str(write_qa(tmp_path, [*GOOD, wrong_keyword])), "--index-dir", str(indexed), "--answers",
                 "--report", str(report)]) == 0
    text = report.read_text(encoding="utf-8")
    assert "expected keywords in 2 of 3 answerable; refused 1 of 1 unanswerable; wrongly refused 0 of 3 answerable" in text
    assert "### Failed answers" in text and "`q5`" in text and "`999KB`" in text and "the answer lacks an expected keyword" in text
    assert "- **keyword_accuracy**:" in text, "each metric is explained in a line"
    assert "refused 1 of 1 unanswerable" in capsys.readouterr().out


def test_report_on_a_set_of_only_unanswerable_questions_has_no_chart(indexed, tmp_path):
    report = tmp_path / "out" / "report.md"
    assert main(["eval", str(write_qa(tmp_path, GOOD[2:])), "--index-dir", str(indexed), "--answers", "--report", str(report)]) == 0
    assert "refused 1 of 1 unanswerable" in report.read_text(encoding="utf-8") and not report.with_suffix(".png").exists()


def test_a_two_part_question_is_ranked_as_ask_cites_its_sources(write_notes, tmp_path, monkeypatch, capsys):
    # Plain search ranks the second part's passage under a DynamoDB sibling (3rd); ask brings each
    # part's best passage right after the question's own best one (2nd). Eval scores what ask cites.
    monkeypatch.setenv("NOTEBOT_EMBEDDER", "hash")
    sections = ["容量\n- DynamoDB 的 item 最大 400KB，超过要拆分或存到 S3", "分区\n- DynamoDB 的分区键决定数据分布，热分区会限流",
                "索引\n- DynamoDB 的 LSI 要在建表时创建，GSI 可以之后添加", "备份\n- DynamoDB 支持 PITR，可以恢复到 35 天内任意时间点",
                "流\n- DynamoDB Streams 记录 item 的修改，保留 24 小时"]
    notes = {"aws.md": "# DynamoDB\n" + "".join(f"## {s}\n" for s in sections) + "# BigQuery\n- 列式数据仓库，按扫描量计费\n"}
    index_dir = tmp_path / "index"
    assert main(["index", str(write_notes(notes)), "--index-dir", str(index_dir)]) == 0
    question = {**GOOD[1], "question": "DynamoDB 的 item 最大多大？BigQuery 是怎么计费的？"}
    assert main(["eval", str(write_qa(tmp_path, [question])), "--index-dir", str(index_dir), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["modes"]["hybrid"]["all"]["mrr@10"] == 0.5
