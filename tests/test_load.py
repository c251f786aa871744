import os

from notebot.ingest.load import load_corpus


def test_walks_notes_recursively_in_sorted_order_and_ignores_other_files(write_notes):
    corpus = write_notes({"b.md": "# B", "a/x.markdown": "x", "a/y.txt": "y", "pic.png": "no", ".hidden/z.md": "z"})
    assert [d.path for d in load_corpus(corpus)] == ["a/x.markdown", "a/y.txt", "b.md"]


def test_utf8_bom_is_stripped(write_notes):
    corpus = write_notes({"bom.md": "\ufeff# 标题\n正文".encode("utf-8")})
    [doc] = load_corpus(corpus)
    assert doc.text == "# 标题\n正文" and doc.encoding == "utf-8"


def test_gbk_note_is_decoded_correctly_and_reported(write_notes):
    corpus = write_notes({"gbk.md": "# 数据湖\n对象最大 5TB，需要分段上传。".encode("gbk")})
    warnings = []
    [doc] = load_corpus(corpus, warnings.append)
    assert "对象最大 5TB" in doc.text and doc.encoding == "gb18030"
    assert warnings == ["gbk.md is GB18030, not UTF-8: decoded as GB18030"]


def test_binary_and_unknown_encodings_are_skipped_with_a_warning_naming_the_file(write_notes):
    corpus = write_notes({
        "ok.md": "# fine",
        "binary.md": b"\x89PNG\r\n\x1a\n\x00\x00" + os.urandom(64),
        "latin1.txt": "Résumé café naïve, déjà vu".encode("latin-1"),
    })
    warnings = []
    docs = load_corpus(corpus, warnings.append)
    assert [d.path for d in docs] == ["ok.md"]
    assert any(w.startswith("skipped binary.md:") for w in warnings)
    assert any(w.startswith("skipped latin1.txt:") for w in warnings)


def test_empty_files_and_files_without_headings_load(write_notes):
    corpus = write_notes({"empty.md": "", "plain.txt": "just a line of text"})
    assert [d.text for d in load_corpus(corpus)] == ["", "just a line of text"]
