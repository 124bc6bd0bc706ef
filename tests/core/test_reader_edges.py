"""The readers' messages say what is wrong (#24 item 11), and lines of only whitespace and
invisible characters are blank lines wherever they stand (#24 item 12)."""

import json
import os
import warnings

import pytest
from click.testing import CliRunner

from seqtext.classifier.data import read_examples
from seqtext.cli.main import main
from seqtext.core.files import check_text_file, expand_paths, is_blank, read_texts
from seqtext.errors import DataError
from seqtext.tagger.baselines import most_frequent_tag
from seqtext.tagger.conll import Sentence, iter_token_lists, read_sentences
from seqtext.tagger.schemes import convert, detect_scheme, quiet_seqeval, scheme_of
from seqtext.text.vectors import read_vectors

BOM, ZWSP = "\ufeff", "\u200b"


def pairs(sentences):
    return [(s.tokens, s.tags) for s in sentences]


def sentences(*tag_lists):
    return [Sentence(["w"] * len(tags), list(tags), "gold.conll", 1 + 3 * i) for i, tags in enumerate(tag_lists)]


# -- item 11: messages that say what is wrong ---------------------------------------------------

@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_and_symlink_loop_are_named_for_what_they_are(tmp_path):
    fifo, loop = tmp_path / "train.conll", tmp_path / "loop.conll"
    os.mkfifo(fifo)
    loop.symlink_to(loop)
    with pytest.raises(DataError, match=r"train.conll is not a regular file but a FIFO"):
        read_sentences(str(fifo))
    with pytest.raises(DataError, match=r"loop.conll: a symbolic link loop"):
        read_examples(str(loop))
    with pytest.raises(DataError, match=r"train.conll is not a regular file but a FIFO"):
        read_vectors(str(fifo), {})
    (tmp_path / "dangling").symlink_to(tmp_path / "gone.txt")
    with pytest.raises(DataError, match=r"dangling: a symbolic link to .*gone.txt, which does not exist"):
        expand_paths([str(tmp_path / "dangling")])
    with pytest.raises(DataError, match=r"missing.txt: no such file"):
        expand_paths([str(tmp_path / "missing.txt")])


def test_text_that_is_a_number_is_named_not_empty(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"text": "fine", "label": "pos"}\n{"text": 12345, "label": "neg"}\n')
    with pytest.raises(DataError, match=r"a.jsonl, line 2: the text in column 'text' is a number \(12345\), not a string"):
        read_examples(str(path))
    path.write_text('{"text": "fine", "label": "pos"}\n{"text": null, "label": "neg"}\n')
    with pytest.raises(DataError, match=r"a.jsonl, line 2: no text \(column 'text' holds no value\)"):
        read_examples(str(path))


def test_csv_row_short_of_a_column_is_named_not_empty(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("label,text\npos,good film\nbad film\n")  # the row's one value is read as its label
    with pytest.raises(DataError, match=r"a.csv, line 3: 1 value where the header names 2 columns \(label, text\), "
                                        r"so the row has no value for 'text'"):
        read_examples(str(path))
    path = tmp_path / "a.tsv"
    path.write_text("text\tlabel\ngood film\tpos\nbad film\n")
    with pytest.raises(DataError, match=r"a.tsv, line 3: 1 value .* no value for 'label'"):
        read_examples(str(path))
    path = tmp_path / "b.csv"
    path.write_text("text,label\ngood film,pos\nbad film,\n")  # the column is there, its value empty
    with pytest.raises(DataError, match=r"b.csv, line 3: no label"):
        read_examples(str(path))


def test_word_column_out_of_range_names_the_column_asked_for(tmp_path):
    path = tmp_path / "a.conll"
    path.write_text("EU B-ORG\nrejects O\n")
    with pytest.raises(DataError, match=r"a.conll, line 1: no column 99 for data.word_column: the line has 2 columns"):
        read_sentences(str(path), word_column=99)
    with pytest.raises(DataError, match=r"a.conll, line 1: no column 5 for data.tag_column: the line has 2 columns"):
        read_sentences(str(path), tag_column="5")
    result = CliRunner().invoke(main, ["train", "tagger", str(path), "--word-column", "99", "-o", str(tmp_path / "out")])
    assert result.exit_code == 1 and "no column 99 for --word-column: the line has 2 columns" in result.stderr
    assert "no column -1" not in result.stderr


def test_seqeval_warnings_are_not_shown_before_seqtexts_error(tmp_path):
    train, dev = sentences(["U-PER", "O"], ["B-PER", "O"]), sentences(["B-PER", "O"])
    filters = list(warnings.filters)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(DataError, match=r"gold.conll, line 1: tag 'U-PER' is not a BIO tag"):
            most_frequent_tag(train, dev, "bio")
    assert [str(w.message) for w in caught] == []
    with quiet_seqeval():
        pass
    assert warnings.filters == filters  # the process's filters are left as they were
    path = tmp_path / "u.conll"
    path.write_text("John U-PER\nsaid O\n\nMary B-PER\nwent O\n")
    result = CliRunner().invoke(main, ["train", "tagger", str(path), "--dev", str(path), "--tag-scheme", "bio",
                                       "-o", str(tmp_path / "out"), "--max-steps", "1", "--quiet"])
    assert result.exit_code == 1, result.output
    assert "Warning" not in result.stderr and "seems not to be NE tag" not in result.stderr
    assert "u.conll, line 1: tag 'U-PER' is not a BIO tag" in result.stderr and "--tag-scheme" in result.stderr


def test_a_scheme_given_refuses_tags_it_has_not():
    bioes = sentences(["S-PER", "O"], ["B-LOC", "E-LOC"])
    for scheme in ("iob1", "bio"):
        with pytest.raises(DataError, match=rf"gold.conll, line 1: tag 'S-PER' is not an? {scheme.upper()} tag \(O, B-TYPE, I-TYPE\)"):
            scheme_of(bioes, scheme)
        with pytest.raises(DataError, match=r"gold.conll, line 1: tag 'S-PER' is not"):
            most_frequent_tag(bioes, bioes, scheme)
        with pytest.raises(DataError, match=r"tag 'S-PER' is not"):
            convert(["S-PER", "O"], scheme, "bioes")
    assert scheme_of(bioes, "bioes") == "bioes" and scheme_of(bioes) == "bioes"


def test_a_mixture_of_iob1_and_bioes_is_named():
    mixed = sentences(["I-PER", "O"], ["O", "S-LOC"])
    with pytest.raises(DataError, match=r"the tags mix IOB1 and BIOES: 'I-PER' starts an entity, .* 'S-LOC' is a BIOES tag"):
        detect_scheme([s.tags for s in mixed])
    with pytest.raises(DataError, match=r"'I-PER' \(in the sentence at gold.conll, line 1\) .* 'S-LOC' \(in the sentence at "
                                        r"gold.conll, line 4\)"):
        scheme_of(mixed)
    assert scheme_of(mixed, "bioes") == "bioes"  # given, the I- tag is read as conlleval reads it
    assert detect_scheme([["I-PER", "O"], ["B-PER", "I-PER"]]) == "iob1"
    assert detect_scheme([["B-PER", "E-PER", "I-PER"], ["S-LOC"]]) == "bioes"  # I- continues an entity: no mixture


@pytest.mark.parametrize("label, message", [
    (1.5, r"label 1.5 is a float"),
    ("NaN", r"label nan is NaN"),
    ({"a": 1}, r'label \{"a": 1\} is an object'),
    ([[1]], r"label \[1\] is a list inside a list"),
])
def test_labels_that_are_no_strings_or_integers_are_refused(tmp_path, label, message):
    path = tmp_path / "a.jsonl"
    shown, first = ("NaN", 1) if label == "NaN" else (json.dumps(label), '"pos"')  # NaN in a column of numbers
    path.write_text(f'{{"text": "fine", "label": {first}}}\n{{"text": "odd", "label": {shown}}}\n')
    with pytest.raises(DataError, match=rf"a.jsonl, line 2: {message}; labels are strings or integers"):
        read_examples(str(path))


def test_integer_labels_read_as_floats_stay_integers(tmp_path):
    path = tmp_path / "a.jsonl"  # one float makes the column float: 1 comes back as 1.0
    path.write_text('{"text": "fine", "label": 1}\n{"text": "odd", "label": 2.0}\n')
    assert [e.labels for e in read_examples(str(path))] == [["1"], ["2"]]
    path = tmp_path / "a.csv"  # a gap makes a column of integers float in pandas
    path.write_text("text,label,note\nfine,1,\nodd,2,x\n")
    assert [e.labels for e in read_examples(str(path))] == [["1"], ["2"]]


@pytest.mark.parametrize("bad", ["nan", "inf", "-Infinity"])
def test_embeddings_holding_nan_or_infinity_are_refused(tmp_path, bad):
    path = tmp_path / "vectors.txt"
    path.write_text(f"2 2\nthe 0.1 0.2\nfilm 0.3 {bad}\nother nan nan\n")
    with pytest.raises(DataError, match=r"vectors.txt, line 3: the vector of 'film' holds -?(nan|inf)"):
        read_vectors(str(path), {"the": 1, "film": 2})
    found, dim = read_vectors(str(path), {"the": 1})  # a vector not read cannot harm
    assert dim == 2 and list(found) == [1]


# -- item 12: invisible lines are blank lines ---------------------------------------------------

def test_is_blank():
    for line in ("", "\n", "\t\n", BOM, BOM + "\n", ZWSP, f" {ZWSP}\t{BOM} \r\n", "\u2060\u200c\u200d\u00a0"):
        assert is_blank(line), repr(line)
    for line in ("a", f"{ZWSP}a", "-", f"{BOM}EU B-ORG\n"):
        assert not is_blank(line), repr(line)


def test_conll_lines_of_a_bom_a_tab_or_a_zero_width_space_end_sentences(tmp_path):
    path = tmp_path / "dev.conll"
    expected = [(["EU", "rejects"], ["B-ORG", "O"]), (["Peter"], ["B-PER"]), (["Blackburn"], ["I-PER"])]
    # A dev file ending with a line of only a byte-order mark; a training file whose sentences
    # are separated by lines of only a tab; a zero-width space, and both with spaces.
    path.write_text(f"EU B-ORG\nrejects O\n\nPeter B-PER\n\nBlackburn I-PER\n{BOM}\n")
    assert pairs(read_sentences(str(path))) == expected
    path.write_text("EU\tB-ORG\nrejects\tO\n\t\nPeter\tB-PER\n\t\nBlackburn\tI-PER\n\t\n")
    assert pairs(read_sentences(str(path))) == expected
    path.write_text(f"EU B-ORG\nrejects O\n{ZWSP}\nPeter B-PER\n {BOM}\t{ZWSP} \nBlackburn I-PER\n")
    assert pairs(read_sentences(str(path))) == expected
    assert [s.line for s in read_sentences(str(path))] == [1, 4, 6]


def test_conllu_and_jsonl_lines_of_invisible_characters_are_blank(tmp_path):
    row = "1\t{}\t_\t{}\t_\t_\t0\troot\t_\t_\n"
    path = tmp_path / "a.conllu"
    path.write_text(row.format("EU", "PROPN") + f"{BOM}\n" + row.format("Peter", "PROPN") + f"{ZWSP}\n")
    assert pairs(read_sentences(str(path))) == [(["EU"], ["PROPN"]), (["Peter"], ["PROPN"])]
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps({"tokens": ["EU"], "tags": ["B-ORG"]}) + f"\n{BOM}\n{ZWSP}\n")
    assert pairs(read_sentences(str(path))) == [(["EU"], ["B-ORG"])]


def test_text_to_tag_with_invisible_lines(tmp_path):
    assert list(iter_token_lists(["EU rejects\n", f"{ZWSP}\n", "Peter\n"], "tokens")) == [["EU", "rejects"], ["Peter"]]
    assert list(iter_token_lists([f"{BOM}\n", "EU\n", "rejects\n", f"{ZWSP}\n", "Peter\n"], "conll")) == [["EU", "rejects"], ["Peter"]]
    paragraphs = list(iter_token_lists(["EU rejects it.\n", f"{ZWSP}\n", "Peter sat.\n"], "text"))
    assert paragraphs == [["EU", "rejects", "it", "."], ["Peter", "sat", "."]]


def test_plain_and_labelled_files_skip_invisible_lines(tmp_path):
    path = tmp_path / "lines.txt"
    path.write_text(f"first line\n{ZWSP}\n{BOM} \nsecond line\n")
    assert read_texts(str(path), by_line=True) == ["first line", "second line"]
    path.write_text(f"{BOM}{ZWSP}\n \t{ZWSP}\n")
    with pytest.raises(DataError, match=r"lines.txt: file is empty"):
        check_text_file(path)
    path = tmp_path / "labelled.txt"
    path.write_text(f"pos good film\n{ZWSP}\nneg bad film\n{BOM}\n")
    assert [(e.text, e.labels) for e in read_examples(str(path))] == [("good film", ["pos"]), ("bad film", ["neg"])]
    path.write_text(f"{ZWSP}\n__label__pos good film\n")
    assert [(e.text, e.labels) for e in read_examples(str(path))] == [("good film", ["pos"])]


def test_a_tagged_jsonl_line_nested_too_deep_is_one_error(tmp_path):
    """Python's JSON parser gives up near a thousand levels (a RecursionError traceback before)."""
    path = tmp_path / "deep.jsonl"
    path.write_text('{"tokens": ["a"], "tags": ["O"]}\n' + "[" * 100_000 + "]" * 100_000 + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"deep.jsonl, line 2: JSON nested too deep"):
        read_sentences(str(path))
