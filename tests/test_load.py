import os

import pytest

from notebot.ingest.load import load_corpus
from notebot.store.build import build_index


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
        "rare.md": "镕 碁 鍚".encode("gbk"),  # decodes as GBK, but nothing like Chinese text
    })
    warnings = []
    docs = load_corpus(corpus, warnings.append)
    assert [d.path for d in docs] == ["ok.md"]
    assert any(w.startswith("skipped binary.md:") for w in warnings)
    assert any(w.startswith("skipped rare.md:") for w in warnings)


@pytest.mark.parametrize("text", ["Grüße aus München, schöne Größe", "Crème brûlée façade", "“Smart” quotes – 5 €"])
def test_latin1_notes_are_never_taken_for_gb18030(write_notes, text):
    corpus = write_notes({"west.md": f"# Notes\n{text}\n".encode("cp1252")})
    warnings = []
    [doc] = load_corpus(corpus, warnings.append)
    assert doc.text == f"# Notes\n{text}\n" and doc.encoding == "cp1252"
    assert warnings == ["west.md is CP1252, not UTF-8: decoded as CP1252"]


def test_a_file_whose_name_is_not_utf8_is_skipped_with_a_warning_naming_it(write_notes, hash_settings):
    corpus = write_notes({"ok.md": "# fine\ntext"})
    with open(os.fsencode(corpus) + b"/caf\xe9.md", "wb") as note:
        note.write(b"# Cafe\nlatin-1 name")
    warnings = []
    report = build_index(hash_settings(corpus), warn=warnings.append)
    assert report["files"] == 1
    assert warnings == ["skipped b'caf\\xe9.md': its name is not UTF-8 (rename the file to include it)"]


def test_empty_files_and_files_without_headings_load(write_notes):
    corpus = write_notes({"empty.md": "", "plain.txt": "just a line of text"})
    assert [d.text for d in load_corpus(corpus)] == ["", "just a line of text"]
