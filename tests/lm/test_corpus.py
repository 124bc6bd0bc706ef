import json

import numpy as np
import pytest

from seqtext.core.files import expand_paths, read_texts
from seqtext.errors import DataError
from seqtext.lm.corpus import encode_documents, split_stream
from seqtext.text.tokenizers import BOS, EOS, CharTokenizer


def test_non_utf8_names_file_and_line(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("first line\nsecond line caf\xe9\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin1.txt, line 2: not valid UTF-8"):
        read_texts(str(path))


def test_empty_file(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_text("  \n")
    with pytest.raises(DataError, match="empty"):
        read_texts(str(path))


def test_missing_file_and_glob(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_texts(str(tmp_path / "nope.txt"))
    with pytest.raises(DataError, match="no file matches"):
        expand_paths(str(tmp_path / "*.txt"))


def test_many_files_by_glob_and_no_trailing_newline(tmp_path):
    (tmp_path / "a.txt").write_text("alpha beta")
    (tmp_path / "b.txt").write_text("gamma\ndelta\n")
    assert read_texts(str(tmp_path / "*.txt")) == ["alpha beta", "gamma\ndelta\n"]
    assert read_texts(str(tmp_path / "*.txt"), by_line=True) == ["alpha beta", "gamma", "delta"]


def test_jsonl_and_csv_text_column(tmp_path):
    jsonl = tmp_path / "d.jsonl"
    jsonl.write_text("\n".join(json.dumps({"body": t, "id": i}) for i, t in enumerate(["one", "two"])) + "\n")
    assert read_texts(str(jsonl), text_column="body") == ["one", "two"]
    csv = tmp_path / "d.csv"
    csv.write_text("id,text\n1,hello there\n2,\"quoted, comma\"\n")
    assert read_texts(str(csv)) == ["hello there", "quoted, comma"]
    with pytest.raises(DataError, match="no column 'missing'; columns are id, text"):
        read_texts(str(csv), text_column="missing")


def test_stream_is_compact_and_memory_mapped(tmp_path):
    tok = CharTokenizer.train(["abc"])
    ids = encode_documents([("ab", True, True), ("c", True, True)], tok, tmp_path / "ids.bin")
    assert isinstance(ids, np.memmap) and ids.dtype == np.uint16
    assert ids.tolist() == [BOS, tok.stoi["a"], tok.stoi["b"], EOS, BOS, tok.stoi["c"], EOS]
    train, val = split_stream(ids, 0.3)
    assert len(train) + len(val) == len(ids) and len(val) == 2
