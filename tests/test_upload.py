import pytest

from notebot.apps.upload import MAX_UPLOAD_BYTES, MB, safe_name, save_upload, save_uploads
from notebot.store.build import build_index


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


def write_upload(folder, name: str, megabytes: float):
    path = folder / name
    path.write_bytes(b"# Note\n" + b"x" * int(megabytes * MB - 7))
    return path, name


def test_one_upload_request_is_capped_as_a_whole(tmp_path):
    files = [write_upload(tmp_path, f"n{i}.md", 4) for i in range(3)]
    lines = save_uploads(files, tmp_path / "corpus", max_request_mb=10, max_corpus_mb=100)
    assert lines == ["nothing added: this upload is 12.0 MB, more than the 10 MB allowed at once "
                     "— add fewer files at a time (NOTEBOT_UPLOAD_MAX_MB)"]
    assert not (tmp_path / "corpus").exists()


def test_uploads_stop_when_the_notes_folder_would_pass_its_cap(tmp_path, write_notes):
    corpus = write_notes({"old.md": "x" * int(7 * MB)})
    files = [write_upload(tmp_path, "a.md", 2), write_upload(tmp_path, "b.md", 2)]
    assert save_uploads(files, corpus, max_request_mb=10, max_corpus_mb=10) == [
        "added a.md", "skipped b.md: the notes folder would grow past 10 MB (NOTEBOT_CORPUS_MAX_MB)"]


def test_identical_chunk_texts_are_embedded_once(write_notes, hash_settings):
    section = "## Limits\n\n- Lambda 最长运行 15 分钟\n\n"
    report = build_index(hash_settings(write_notes({"a.md": "# Lambda\n\n" + section * 3})))
    assert report["chunks"] == 3 and report["embedded"] == 1, "three identical sections, one embedding"
