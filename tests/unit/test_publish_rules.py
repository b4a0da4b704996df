"""The publishing rules that need no pipeline run: the README's generated part between its markers
(hand-written text kept), and the pixel-row guard that keeps FER2013 rows out of git."""

from __future__ import annotations

import numpy as np
import pytest

from facial_emotion.report.publish import BEGIN, END, PIXEL_ROW, PublishError, label_set_table, merged_readme


def test_a_new_readme_gets_a_title_and_the_marked_generated_part(tmp_path):
    text = merged_readme(None, "| table |\n", tmp_path / "README.md")
    assert text.startswith("# Results on real FER2013\n") and f"{BEGIN}\n| table |\n{END}\n" in text


def test_hand_written_text_around_the_markers_is_kept_and_the_old_generated_part_replaced(tmp_path):
    existing = f"# Mine\n\nintro by hand\n\n{BEGIN}\nold table\n{END}\n\n## Study 1 split\n\nnotes by hand\n"
    text = merged_readme(existing, "new table\n", tmp_path / "README.md")
    assert text == f"# Mine\n\nintro by hand\n\n{BEGIN}\nnew table\n{END}\n\n## Study 1 split\n\nnotes by hand\n"
    assert merged_readme(text, "new table\n", tmp_path / "README.md") == text  # publishing twice changes nothing


@pytest.mark.parametrize("existing", ["# notes without markers\n", f"{BEGIN}\nno end\n",
                                      f"{END}\n{BEGIN}\n", f"{BEGIN}\n{END}\n{BEGIN}\n{END}\n"])
def test_a_readme_without_one_marker_pair_is_refused_naming_the_file(tmp_path, existing):
    with pytest.raises(PublishError, match=r"README\.md: exists but has no single"):
        merged_readme(existing, "table\n", tmp_path / "README.md")


def test_the_guard_finds_a_pixel_row_however_it_is_written():
    pixels = np.random.default_rng(0).integers(0, 256, size=48 * 48)
    assert PIXEL_ROW.search(" ".join(map(str, pixels)))  # as in fer2013.csv
    assert PIXEL_ROW.search("[" + ",\n  ".join(map(str, pixels[:100])) + "]")  # as indented JSON
    assert PIXEL_ROW.search("<pre>" + " ".join(map(str, pixels[:96])) + "</pre>")


def test_the_guard_leaves_metrics_and_images_alone():
    confusion = "[[" + "],\n [".join(", ".join(str(v) for v in row) for row in np.arange(49).reshape(7, 7)) + "]]"
    assert not PIXEL_ROW.search(confusion)
    assert not PIXEL_ROW.search("<td>12</td>" * 200)
    assert not PIXEL_ROW.search("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAA" * 50)
    assert not PIXEL_ROW.search(" ".join(["300"] * 200))  # not pixel values
    assert not PIXEL_ROW.search(" ".join(["7"] * 95))  # too short to be a row
    # near misses, again and again: an ambiguous number pattern backtracks exponentially on these
    assert not PIXEL_ROW.search((" ".join(["12"] * 95) + " x ") * 20)


def _row(model, **sets):
    return {"model": model,
            "label_sets": {name: {"test": {"accuracy": a, "macro_f1": f}} for name, (a, f) in sets.items()}}


def test_the_label_set_table_has_a_column_per_set_and_a_dash_where_a_model_lacks_one():
    lines = label_set_table({"models": [_row("cnn", fer2013=(0.6, 0.5), ferplus=(0.8, 0.7)),
                                        _row("svm", fer2013=(0.4, 0.3))]})
    assert "| model | FER2013 labels | FER+ majority labels |" in lines
    assert "| cnn | 0.6000 / 0.5000 | 0.8000 / 0.7000 |" in lines and "| svm | 0.4000 / 0.3000 | - |" in lines


def test_data_with_one_label_set_gets_no_second_table():
    assert label_set_table({"models": [_row("cnn", fer2013=(0.6, 0.5))]}) == []
    assert label_set_table({"models": [{"model": "old run without label sets"}]}) == []
