"""Regression tests for the file readers: tagged sentences, labelled examples and plain corpora."""

import json
import logging
import os
import socket

import pytest

from seqtext.classifier.data import read_examples
from seqtext.core import files as corpus
from seqtext.core.files import check_text_file, read_texts
from seqtext.errors import DataError
from seqtext.tagger.conll import iter_token_lists, read_sentences

BOM = "\ufeff"


def pairs(sentences):
    return [(s.tokens, s.tags) for s in sentences]


def test_glob_and_list_read_every_file(tmp_path):
    (tmp_path / "a.conll").write_text("EU B-ORG\n\nPeter B-PER\n")
    (tmp_path / "b.conll").write_text("rejects O\n")
    both = [(["EU"], ["B-ORG"]), (["Peter"], ["B-PER"]), (["rejects"], ["O"])]
    assert pairs(read_sentences(str(tmp_path / "*.conll"))) == both
    assert pairs(read_sentences([str(tmp_path / "b.conll"), str(tmp_path / "a.conll")])) == both[2:] + both[:2]
    with pytest.raises(DataError, match="no files given"):
        read_sentences([])
    (tmp_path / "a.txt").write_text("pos good film\n")
    (tmp_path / "b.txt").write_text("neg bad film\n")
    assert [e.labels for e in read_examples(str(tmp_path / "*.txt"))] == [["pos"], ["neg"]]
    import datasets

    datasets.Dataset.from_dict({"text": ["fine"], "label": ["pos"]}).save_to_disk(str(tmp_path / "saved"))
    examples = read_examples([str(tmp_path / "saved"), str(tmp_path / "b.txt")])
    assert [(e.text, e.labels) for e in examples] == [("fine", ["pos"]), ("bad film", ["neg"])]
    assert examples[1].where.endswith("b.txt, line 1")


def test_conll_row_without_its_tag_is_refused(tmp_path):
    path = tmp_path / "short.conll"
    path.write_text("EU NNP B-ORG\nrejects VBZ\n\nPeter NNP B-PER\n")
    with pytest.raises(DataError, match=r"short.conll, line 2: 2 columns where the file's other rows have 3"):
        read_sentences(str(path))
    path.write_text("EU NNP B-ORG\nrejects VBZ O O\n\nPeter NNP B-PER\n")  # the last column is another one here
    with pytest.raises(DataError, match=r"short.conll, line 2: 4 columns where the file's other rows have 3"):
        read_sentences(str(path))
    # A tag column counted from the start is the same column in rows of any width.
    path.write_text("EU NNP B-ORG\nrejects VBZ\n")
    assert pairs(read_sentences(str(path), tag_column="1")) == [(["EU", "rejects"], ["NNP", "VBZ"])]


def test_jsonl_tokens_and_tags_must_be_lists_of_strings(tmp_path):
    path = tmp_path / "a.jsonl"
    for record in ({"tokens": "abc", "tags": "XYZ"}, {"tokens": ["a", "b"], "tags": "XY"}, {"tokens": ["a", 1], "tags": ["X", "Y"]}):
        path.write_text(json.dumps({"tokens": ["ok"], "tags": ["O"]}) + "\n" + json.dumps(record) + "\n")
        with pytest.raises(DataError, match=r"a.jsonl, line 2: '(tokens|tags)' must be a list of strings"):
            read_sentences(str(path))
    path.write_text("[1, 2]\n")
    with pytest.raises(DataError, match=r"a.jsonl, line 1: expected"):
        read_sentences(str(path))


def test_conllu_ids_that_are_not_numbers_are_refused(tmp_path):
    row = "\t{}\t_\tX\t_\t_\t_\t_\t_\t_\n"
    path = tmp_path / "a.conllu"
    path.write_text("1" + row.format("a") + "1-2" + row.format("ab") + "2" + row.format("b") + "2.1" + row.format("e") + "\n")
    assert read_sentences(str(path))[0].tokens == ["a", "b"]
    path.write_text("1" + row.format("a") + "x" + row.format("b") + "\n")
    with pytest.raises(DataError, match=r"a.conllu, line 2: CoNLL-U id 'x'"):
        read_sentences(str(path))


def test_sentences_know_where_they_start(tmp_path):
    (tmp_path / "a.conll").write_text("-DOCSTART- O\n\nEU B-ORG\nrejects O\n\n\nPeter B-PER\n")
    sentences = read_sentences(str(tmp_path / "a.conll"))
    assert [(s.file, s.line) for s in sentences] == [(str(tmp_path / "a.conll"), 3), (str(tmp_path / "a.conll"), 7)]
    assert sentences[1].where == f"{tmp_path / 'a.conll'}, line 7"
    (tmp_path / "a.conllu").write_text("# sent_id = 1\n1\tdo\tdo\tAUX\t_\t_\t_\t_\t_\t_\n\n# sent_id = 2\n1\tgo\tgo\tVERB\t_\t_\t_\t_\t_\t_\n")
    assert [s.line for s in read_sentences(str(tmp_path / "a.conllu"))] == [2, 5]
    (tmp_path / "a.jsonl").write_text('{"tokens": ["a"], "tags": ["X"]}\n\n{"tokens": ["b"], "tags": ["Y"]}\n')
    assert [s.line for s in read_sentences(str(tmp_path / "a.jsonl"))] == [1, 3]


def test_plain_text_read_as_conll_is_refused(tmp_path):
    path = tmp_path / "plain.txt"
    path.write_text("Hello\nworld\n")  # every row as wide, but no tag column
    with pytest.raises(DataError, match=r"plain.txt, line 1: 1 column, so no tag"):
        read_sentences(str(path))
    path.write_text("Peter went home .\nShe stayed .\n")
    with pytest.raises(DataError, match=r"plain.txt, line \d: \d columns where the file's other rows have \d"):
        read_sentences(str(path))
    assert [s.tokens for s in read_sentences(str(tmp_path / "plain.txt"), need_tags=False)] == [["Peter", "She"]]


def test_bom_is_dropped_from_tagged_files(tmp_path):
    row = "\tdo\tdo\tAUX\t_\t_\t_\t_\t_\t_\n"
    files = {"a.conll": "EU B-ORG\n", "a.conllu": "1" + row, "a.jsonl": '{"tokens": ["EU"], "tags": ["B-ORG"]}\n'}
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        (tmp_path / f"bom-{name}").write_text(BOM + text, encoding="utf-8")
        assert pairs(read_sentences(str(tmp_path / f"bom-{name}"))) == pairs(read_sentences(str(tmp_path / name))), name
    assert list(iter_token_lists([BOM + "a b\n"], "tokens")) == [["a", "b"]]


def test_bom_is_dropped_from_labelled_files(tmp_path):
    files = {
        "a.csv": "text,label\ngood film,pos\n",
        "a.tsv": "label\ttext\npos\tgood film\n",
        "a.jsonl": '{"text": "good film", "label": "pos"}\n',
        "a.ft": "__label__pos good film\n",
        "a.txt": "pos good film\n",
    }
    for name, text in files.items():
        (tmp_path / f"bom-{name}").write_text(BOM + text, encoding="utf-8")
        assert [(e.text, e.labels) for e in read_examples(str(tmp_path / f"bom-{name}"))] == [("good film", ["pos"])], name


def test_bom_is_dropped_from_plain_corpora(tmp_path):
    (tmp_path / "a.txt").write_text(BOM + "hello\nworld\n", encoding="utf-8")
    assert read_texts(str(tmp_path / "a.txt"), by_line=True) == ["hello", "world"]
    assert read_texts(str(tmp_path / "a.txt")) == ["hello\nworld\n"]
    (tmp_path / "a.jsonl").write_text(BOM + '{"text": "hello"}\n', encoding="utf-8")
    assert read_texts(str(tmp_path / "a.jsonl")) == ["hello"]
    (tmp_path / "a.csv").write_text(BOM + "text,id\nhello,1\n", encoding="utf-8")
    assert read_texts(str(tmp_path / "a.csv")) == ["hello"]
    (tmp_path / "only.txt").write_text(BOM + "\n", encoding="utf-8")
    with pytest.raises(DataError, match="only.txt: file is empty"):
        check_text_file(tmp_path / "only.txt")


def test_check_text_file_streams_in_chunks(tmp_path, monkeypatch):
    def whole_file(self):
        raise AssertionError("the whole file was read into memory")

    monkeypatch.setattr(type(tmp_path), "read_bytes", whole_file)
    monkeypatch.setattr(corpus, "CHUNK_BYTES", 4, raising=False)
    path = tmp_path / "a.txt"
    path.write_bytes("caf\u00e9\nna\u00efve \u20ac\u20ac\n\U0001f600\n".encode("utf-8"))  # characters across chunk ends
    check_text_file(path)
    path.write_bytes("caf\u00e9\nna\u00efve\n\n ok ".encode("utf-8") + b"\xff\n")
    with pytest.raises(DataError, match=r"a.txt, line 4: not valid UTF-8 \(byte 0xff\)"):
        check_text_file(path)
    path.write_bytes("ab\n\u20ac".encode("utf-8")[:-1])  # cut in the middle of the last character
    with pytest.raises(DataError, match=r"a.txt, line 2: not valid UTF-8"):
        check_text_file(path)
    path.write_bytes(b" \n\t\n" * 5)
    with pytest.raises(DataError, match="file is empty"):
        check_text_file(path)


def test_reading_leaves_the_process_as_it_found_it(tmp_path, monkeypatch):
    import datasets

    (tmp_path / "a.txt").write_text("hello\n")
    (tmp_path / "a.csv").write_text("text,label\ngood,pos\n")
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    lookups = []
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        lookups.append(host)
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    level = logging.getLogger("datasets").level
    bars_disabled = datasets.are_progress_bars_disabled()
    try:
        datasets.logging.set_verbosity_warning()
        if datasets.config.HF_DATASETS_DISABLE_PROGRESS_BARS is None:
            datasets.enable_progress_bars()

        def state():
            return (dict(os.environ), datasets.logging.get_verbosity(), datasets.are_progress_bars_disabled(),
                    datasets.config.HF_UPDATE_DOWNLOAD_COUNTS, datasets.config.HF_HUB_OFFLINE)

        before = state()
        read_texts(str(tmp_path / "a.txt"))
        assert state() == before
        read_examples(str(tmp_path / "a.csv"))
        assert state() == before
        assert lookups == []  # local files need no network, not even the download-count ping
    finally:
        logging.getLogger("datasets").setLevel(level)
        if bars_disabled and datasets.config.HF_DATASETS_DISABLE_PROGRESS_BARS is None:
            datasets.disable_progress_bars()


def test_parser_errors_keep_the_parsers_reason(tmp_path):
    (tmp_path / "bad.jsonl").write_text('{"text": "a"\n')
    with pytest.raises(DataError, match=r"cannot read .*bad.jsonl as json: JSON parse error"):
        read_texts(str(tmp_path / "bad.jsonl"))
    with pytest.raises(DataError, match=r"cannot read .*bad.jsonl as jsonl: JSON parse error"):
        read_examples(str(tmp_path / "bad.jsonl"))


def test_long_token_lists_come_in_bounded_pieces():
    from seqtext.tagger.conll import MAX_TOKENS

    words = [f"w{i}" for i in range(2 * MAX_TOKENS + 5)]
    pieces = list(iter_token_lists([" ".join(words) + "\n"], "tokens"))
    assert [len(p) for p in pieces] == [MAX_TOKENS, MAX_TOKENS, 5] and sum(pieces, []) == words
    read = 0

    def rows():
        nonlocal read
        for word in words * 100:
            read += 1
            yield f"{word}\tX\n"

    first = next(iter_token_lists(rows(), "conll"))
    assert first == words[:MAX_TOKENS] and read <= MAX_TOKENS + 1  # a sentence without blank lines does not pile up
    text_pieces = list(iter_token_lists([" ".join(["word"] * (MAX_TOKENS + 1)) + "\n"], "text"))
    assert max(len(p) for p in text_pieces) <= MAX_TOKENS and sum(len(p) for p in text_pieces) == MAX_TOKENS + 1


# -- CoNLL-U through the conllu package -----------------------------------------------------------
def _ud(ident, form, upos="X", xpos="_"):
    return f"{ident}\t{form}\t{form.lower()}\t{upos}\t{xpos}\t_\t_\t_\t_\t_\n"


def test_conllu_skips_comments_ranges_and_empty_nodes(tmp_path):
    path = tmp_path / "a.conllu"
    path.write_text(
        "# newdoc id = d1\n# sent_id = 1\n# text = I don't.\n"  # lines 1-3
        + _ud(1, "I", "PRON", "PRP") + _ud("2-3", "don't") + _ud(2, "do", "AUX", "VBP")  # lines 4-6
        + "# a comment inside the sentence\n"  # line 7
        + _ud(3, "n't", "PART", "RB") + _ud("3.1", "ellipsis") + _ud(4, ".", "PUNCT", ".")  # lines 8-10
        + "\n\n# sent_id = 2\n" + _ud(1, "Go", "VERB", "VB")  # lines 11-14
        + "\n# only a comment\n"  # a block without words is no sentence
    )
    upos = read_sentences(str(path))
    assert pairs(upos) == [(["I", "do", "n't", "."], ["PRON", "AUX", "PART", "PUNCT"]), (["Go"], ["VERB"])]
    assert [s.line for s in upos] == [4, 14]
    assert pairs(read_sentences(str(path), tag_column="xpos")) == [(["I", "do", "n't", "."], ["PRP", "VBP", "RB", "."]), (["Go"], ["VB"])]
    with pytest.raises(DataError, match="CoNLL-U tag column must be upos or xpos, not 'lemma'"):
        read_sentences(str(path), tag_column="lemma")
    # Tokens only (what `seqtext tag --input-format conllu` reads), with Windows line ends and a BOM.
    text = BOM + path.read_text().replace("\n", "\r\n")
    assert list(iter_token_lists(text.splitlines(keepends=True), "conllu")) == [["I", "do", "n't", "."], ["Go"]]


def test_conllu_plus_columns_are_read_by_name(tmp_path):
    path = tmp_path / "plus.conllu"
    path.write_text("# global.columns = ID FORM UPOS\n1\tdo\tAUX\n2\tit\tPRON\n")
    assert pairs(read_sentences(str(path))) == [(["do", "it"], ["AUX", "PRON"])]
    path.write_text("# global.columns = ID FORM LEMMA\n1\tdo\tdo\n")
    with pytest.raises(DataError, match=r"plus.conllu, line 2: no UPOS column \(columns: ID FORM LEMMA\)"):
        read_sentences(str(path))


@pytest.mark.parametrize("bad_row, message", [
    ("x\tb\tb\tX\t_\t_\t_\t_\t_\t_\n", r"CoNLL-U id 'x' is not a word number"),
    ("4-2\tb\tb\tX\t_\t_\t_\t_\t_\t_\n", r"CoNLL-U id '4-2' is not a word number"),  # a range runs forwards
    ("_\tb\tb\tX\t_\t_\t_\t_\t_\t_\n", r"CoNLL-U id '_' is not a word number"),
    ("2\tb\tb\tX\n", r"CoNLL-U needs 10 tab-separated columns, found 4"),
    ("2 b b X _ _ _ _ _ _\n", r"not a CoNLL-U row \(.*tabs"),  # space-separated: one column
])
def test_malformed_conllu_row_is_named_by_its_line(tmp_path, bad_row, message):
    path = tmp_path / "bad.conllu"
    path.write_text("# sent_id = 1\n" + _ud(1, "a") + "\n# sent_id = 2\n# text = a b\n" + _ud(1, "a") + bad_row + _ud(3, "c"))
    with pytest.raises(DataError, match=rf"bad\.conllu, line 7: {message}") as error:
        read_sentences(str(path))
    assert "\n" not in str(error.value)
    with pytest.raises(DataError, match=rf"<input>, line 7: {message}"):
        list(iter_token_lists(path.read_text().splitlines(keepends=True), "conllu"))


def test_conllu_without_blank_lines_is_read_in_bounded_pieces():
    from seqtext.tagger.conll import MAX_TOKENS

    read = 0

    def rows():
        nonlocal read
        for n in range(1, 3 * MAX_TOKENS):
            read += 1
            yield _ud(n, f"w{n}")

    first = next(iter_token_lists(rows(), "conllu"))
    assert first == [f"w{n}" for n in range(1, MAX_TOKENS + 1)] and read == MAX_TOKENS
    pieces = list(iter_token_lists(rows(), "conllu"))
    assert [len(p) for p in pieces] == [MAX_TOKENS, MAX_TOKENS, MAX_TOKENS - 1]


# -- datasets: save_to_disk folders, Parquet, folders of files; nothing cached -------------------
def _saved(path, columns, features=None):
    import datasets

    datasets.Dataset.from_dict(columns, features=features).save_to_disk(str(path))
    return str(path)


def _parquet(path, columns, features=None):
    import datasets

    path.parent.mkdir(parents=True, exist_ok=True)
    datasets.Dataset.from_dict(columns, features=features).to_parquet(str(path))
    return str(path)


def test_tagged_datasets_saved_parquet_and_folders(tmp_path):
    import datasets

    saved = _saved(tmp_path / "saved", {"tokens": [["EU", "rejects"], ["Peter"]], "tags": [["B-ORG", "O"], ["B-PER"]]})
    sentences = read_sentences(saved)
    assert pairs(sentences) == [(["EU", "rejects"], ["B-ORG", "O"]), (["Peter"], ["B-PER"])]
    assert sentences[1].where == f"{saved}, row 2"
    _parquet(tmp_path / "pq" / "a.parquet", {"tokens": [["EU"]], "tags": [["B-ORG"]]})
    _parquet(tmp_path / "pq" / "b.parquet", {"tokens": [["Peter"]], "tags": [["B-PER"]]})
    (tmp_path / "pq" / "README.md").write_text("not data")  # passed over
    assert pairs(read_sentences(str(tmp_path / "pq"))) == [(["EU"], ["B-ORG"]), (["Peter"], ["B-PER"])]
    assert pairs(read_sentences(str(tmp_path / "pq" / "b.parquet"))) == [(["Peter"], ["B-PER"])]
    (tmp_path / "js").mkdir()
    (tmp_path / "js" / "a.jsonl").write_text('{"tokens": ["EU"], "tags": ["B-ORG"]}\n')
    assert pairs(read_sentences([str(tmp_path / "js"), saved])) == [(["EU"], ["B-ORG"])] + pairs(sentences)
    # A Hub dataset: tags stored as ClassLabel numbers, in a column named with tag_column.
    labels = datasets.ClassLabel(names=["O", "B-PER"])
    features = datasets.Features({"tokens": datasets.Sequence(datasets.Value("string")), "ner_tags": datasets.Sequence(labels)})
    hub = _saved(tmp_path / "hub", {"tokens": [["Peter", "ran"]], "ner_tags": [[1, 0]]}, features)
    assert pairs(read_sentences(hub, tag_column="ner_tags")) == [(["Peter", "ran"], ["B-PER", "O"])]
    assert [s.tokens for s in read_sentences(hub, need_tags=False)] == [["Peter", "ran"]]
    with pytest.raises(DataError, match=r"hub: no column 'tags'; columns are tokens, ner_tags"):
        read_sentences(hub)
    bad = _parquet(tmp_path / "bad.parquet", {"tokens": [["a"], ["a", "b"]], "tags": [["X"], ["X"]]})
    with pytest.raises(DataError, match=r"bad.parquet, row 2: 2 tokens but 1 tags"):
        read_sentences(bad)
    (tmp_path / "broken.parquet").write_text("not parquet")
    with pytest.raises(DataError, match=r"cannot read .*broken.parquet as parquet: .*magic bytes"):
        read_sentences(str(tmp_path / "broken.parquet"))
    datasets.DatasetDict({"train": datasets.Dataset.from_dict({"tokens": [["a"]], "tags": [["X"]]})}).save_to_disk(str(tmp_path / "dd"))
    with pytest.raises(DataError, match=r"dd holds several splits \(train\); name one split's folder"):
        read_sentences(str(tmp_path / "dd"))


def test_labelled_parquet_files_folders_and_class_labels(tmp_path):
    import datasets

    features = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["neg", "pos"])})
    path = _parquet(tmp_path / "a.parquet", {"text": ["good", "bad"], "label": [1, 0]}, features)
    expected = [("good", ["pos"]), ("bad", ["neg"])]
    for fmt in ("auto", "parquet"):
        examples = read_examples(path, fmt)
        assert [(e.text, e.labels) for e in examples] == expected
    assert examples[1].where == f"{path}, row 2"
    assert [(e.text, e.labels) for e in read_examples(_saved(tmp_path / "saved", {"text": ["good", "bad"], "label": [1, 0]}, features))] == expected
    (tmp_path / "folder").mkdir()
    _parquet(tmp_path / "folder" / "a.parquet", {"text": ["fine"], "label": ["pos"]})
    _parquet(tmp_path / "folder" / "b.parquet", {"text": ["poor"], "label": ["neg"]})
    assert [(e.text, e.labels) for e in read_examples(str(tmp_path / "folder"))] == [("fine", ["pos"]), ("poor", ["neg"])]
    (tmp_path / "folder" / "c.jsonl").write_text('{"text": "odd", "label": "pos"}\n')
    with pytest.raises(DataError, match=r"folder: files of several kinds \(.jsonl, .parquet\)"):
        read_examples(str(tmp_path / "folder"))
    with pytest.raises(DataError, match=r"a.parquet: no column 'body'; columns are text, label"):
        read_examples(path, text_column="body")
    unlabelled = _parquet(tmp_path / "test.parquet", {"text": ["x"], "label": [-1]}, features)  # the Hub's "no label"
    with pytest.raises(DataError, match=r"test.parquet, row 1: no label"):
        read_examples(unlabelled)


def test_plain_corpora_from_saved_and_parquet_datasets(tmp_path):
    from seqtext.core.files import stream_documents
    from seqtext.lm.scoring import lm_documents

    saved = _saved(tmp_path / "saved", {"text": ["one two", "  ", "three"], "id": [1, 2, 3]})
    parquet = _parquet(tmp_path / "pq" / "a.parquet", {"body": ["four\nfive"]})
    assert read_texts(saved) == ["one two", "three"]
    assert read_texts(str(tmp_path / "pq"), text_column="body") == ["four\nfive"]
    assert list(stream_documents(parquet, text_column="body")) == [("four\nfive", True, True)]
    assert lm_documents([parquet], "body", line_based=True) == [["four", "five"]]
    with pytest.raises(DataError, match=r"pq: no column 'text'; columns are body \(use data\.text_column\)"):
        read_texts(str(tmp_path / "pq"))


READ_EVERYTHING = """
import sys
from pathlib import Path
from seqtext.core.files import read_texts, stream_documents
from seqtext.classifier.data import read_examples
from seqtext.tagger.conll import read_sentences
data = Path(sys.argv[1])
assert read_texts([str(data / "a.txt")]) and read_texts([str(data / "a.jsonl")]) and read_texts([str(data / "a.csv")])
assert list(stream_documents([str(data / "a.jsonl"), str(data / "saved-text")]))
for name in ("a.csv", "a.jsonl", "a.ft", "labelled.parquet", "saved-text"):
    assert read_examples(str(data / name)), name
assert read_sentences(str(data / "saved-tags")) and read_sentences(str(data / "tags.parquet"))
print("read")
"""


@pytest.mark.slow
def test_readers_write_nothing_under_home_or_cache(tmp_path):
    """In a fresh process whose HOME is empty (datasets settles its cache folder on import) and
    with no HF_* variables: every reader leaves HOME and the temporary folder as they were."""
    import subprocess
    import sys

    data = tmp_path / "data"
    data.mkdir()
    (data / "a.txt").write_text("hello world\n")
    (data / "a.jsonl").write_text('{"text": "good film", "label": "pos"}\n')
    (data / "a.csv").write_text("text,label\ngood film,pos\n")
    (data / "a.ft").write_text("__label__pos good film\n")
    _parquet(data / "labelled.parquet", {"text": ["good film"], "label": ["pos"]})
    _saved(data / "saved-text", {"text": ["good film"], "label": ["pos"]})
    _saved(data / "saved-tags", {"tokens": [["EU"]], "tags": [["B-ORG"]]})
    _parquet(data / "tags.parquet", {"tokens": [["EU"]], "tags": [["B-ORG"]]})
    home, scratch = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    scratch.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "XDG_", "HUGGINGFACE"))}
    env.update(HOME=str(home), TMPDIR=str(scratch), OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-c", READ_EVERYTHING, str(data)], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0 and "read" in done.stdout, done.stderr
    assert sorted(str(p.relative_to(home)) for p in home.rglob("*")) == []
    assert sorted(str(p.relative_to(scratch)) for p in scratch.rglob("*")) == []
