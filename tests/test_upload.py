import pytest

from notebot.apps.upload import MAX_UPLOAD_BYTES, safe_name, save_upload


def test_names_lose_folders_and_odd_characters_but_keep_chinese():
    assert safe_name("../../etc/passwd.md") == "passwd.md"
    assert safe_name("C:\\Users\\me\\笔记 S3.MD") == "笔记 S3.md"
    assert safe_name("a<b>|c.md") == "a_b_c.md"
    assert safe_name(".md") == "" and safe_name("noext") == ""


def test_upload_lands_in_the_corpus_and_never_outside(tmp_path):
    source = tmp_path / "upload.bin"
    source.write_text("# 新笔记\n内容", encoding="utf-8")
    corpus = tmp_path / "corpus"
    assert save_upload(source, "../../outside.md", corpus) == "added outside.md"
    assert (corpus / "outside.md").read_text(encoding="utf-8") == "# 新笔记\n内容"
    assert not (tmp_path / "outside.md").exists()


def test_duplicates_are_skipped_and_name_clashes_renamed(tmp_path):
    corpus = tmp_path / "corpus"
    first, second = tmp_path / "1", tmp_path / "2"
    first.write_text("same", encoding="utf-8")
    second.write_text("different", encoding="utf-8")
    assert save_upload(first, "n.md", corpus) == "added n.md"
    assert save_upload(first, "n.md", corpus) == "n.md is already in the notes as n.md"
    assert save_upload(second, "n.md", corpus) == "added n-2.md"


def test_wrong_type_too_big_or_undecodable_is_refused(tmp_path):
    corpus = tmp_path / "corpus"
    big = tmp_path / "big"
    big.write_bytes(b"a" * (MAX_UPLOAD_BYTES + 1))
    binary = tmp_path / "bin"
    binary.write_bytes(b"\x00\x01\x02")
    assert save_upload(big, "n.pdf", corpus).startswith("skipped n.pdf: only .md")
    assert "larger than 5 MB" in save_upload(big, "big.md", corpus)
    assert "binary file" in save_upload(binary, "b.md", corpus)
    assert not corpus.exists() or not any(corpus.iterdir())


@pytest.mark.parametrize("text, codec, label", [("# 数据湖\n对象存储", "gbk", "GB18030"), ("# Größe\nCrème brûlée", "cp1252", "CP1252")])
def test_a_legacy_encoded_upload_is_stored_byte_for_byte(tmp_path, text, codec, label):
    source = tmp_path / "note"
    source.write_bytes(text.encode(codec))
    assert save_upload(source, "note.md", tmp_path / "c") == f"added note.md ({label} text, kept as given)"
    assert (tmp_path / "c" / "note.md").read_bytes() == text.encode(codec)
